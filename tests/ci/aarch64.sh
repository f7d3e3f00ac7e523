#!/usr/bin/env bash
# aarch64.sh — the aarch64 build (gcc-aarch64-linux-gnu, DDX_CUDA=OFF,
# release, cmake/aarch64-linux-gnu.cmake) and its fast test subset under
# qemu-user: the cmocka tests (the CLI tests call the binary directly, which
# would need binfmt_misc). Installs what it needs from Debian (idempotent).
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
apt_install() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
[ ${#need[@]} -eq 0 ] || { echo "aarch64: installing ${need[*]}"; apt_install "${need[@]}"; }
if [ ! -e /usr/lib/aarch64-linux-gnu/libcmocka.so ]; then
    echo "aarch64: installing libcmocka-dev:arm64"
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
    apt_install libcmocka-dev:arm64
fi

B=build-aarch64
# skipped under qemu (minutes there; arch-independent or repeated): the tanh accuracy
# sweep, the bad-input suite, and the FD suite again per variant (test_mlp_fd runs
# the dispatched neon kernels; test_cpu_variants compares neon with generic), and
# test_highdim (compiler logic for d up to 4096, the same on every ISA) and
# test_concurrent_eval (threads under qemu-user take minutes; tsan.sh runs it)
SLOW="^(test_cpu_math|test_bad_input|test_mlp_fd_neon|test_mlp_fd_generic|test_highdim|test_concurrent_eval)$"
echo "== aarch64 cross build (qemu-user tests)"
cmake -S . -B $B -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DDDX_CUDA=OFF \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build $B -j"$JOBS" >/dev/null
# the variant's own checks first: dispatch picks neon, neon and generic agree
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 $B/ddx info --model mlp:2-8-1:tanh --derivs u |
    grep '^cpu kernels: neon' || { echo "aarch64: dispatch did not pick neon"; exit 1; }
# one OpenMP thread: under qemu-user, threads spinning at barriers starve the worker
(cd $B && OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive DDX_TEST_QUICK=1 QEMU_LD_PREFIX=/usr/aarch64-linux-gnu \
    ctest -R "^test_" -E "$SLOW" --timeout 300 --output-on-failure -j"$JOBS")
echo "aarch64: build and tests passed under qemu-user"
