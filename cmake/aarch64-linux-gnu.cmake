# aarch64-linux-gnu.cmake — cross-compile for 64-bit Arm Linux (Grace,
# Graviton) with Debian's gcc-aarch64-linux-gnu; tests run under qemu-user
# (CMAKE_CROSSCOMPILING_EMULATOR), the target's libraries from the multiarch
# directories (libcmocka-dev:arm64) and the cross sysroot.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DDDX_CUDA=OFF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)
# the host's (x86) OpenBLAS, which CMakeLists.txt looks for by path
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/x86_64-linux-gnu/openblas-openmp
    /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/x86_64-linux-gnu/openblas-openmp)
