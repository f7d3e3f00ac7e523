# cpu_variants.cmake — one build for every CPU of an architecture: the
# library is compiled for a portable baseline (x86-64-v2; armv8-a), and the
# hot kernels once per ISA variant (kernels/cpu/isa_*.c, each with its own
# -m flags below), chosen at run time (kernels/cpu/cpu_dispatch.c).
# -DDDX_NATIVE=ON instead compiles everything for the build machine's CPU
# (the binary may then die with SIGILL elsewhere).
option(DDX_NATIVE "Tune everything for this machine's CPU (-march=native; not portable)" OFF)

# -fno-trapping-math in every variant: without it GCC keeps the branches of
# the vector tanh's NaN/saturation selects and leaves the loop scalar
# everywhere but AVX-512 (masks); ddx never reads the FP exception flags.
set(K ${CMAKE_SOURCE_DIR}/kernels/cpu)
set_source_files_properties(${K}/isa_generic.c ${K}/isa_neon.c PROPERTIES COMPILE_OPTIONS "-fno-trapping-math")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(DDX_CPU_BASELINE -march=x86-64-v2)
  set_source_files_properties(${K}/isa_avx2.c PROPERTIES COMPILE_OPTIONS "-fno-trapping-math;-mavx2;-mfma")
  set_source_files_properties(${K}/isa_avx512.c PROPERTIES COMPILE_OPTIONS
    "-fno-trapping-math;-mavx2;-mfma;-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mprefer-vector-width=512")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(DDX_CPU_BASELINE -march=armv8-a)
else()
  set(DDX_CPU_BASELINE "")
endif()

if(DDX_NATIVE AND NOT DDX_SANITIZE)
  add_compile_options(-march=native)
elseif(DDX_CPU_BASELINE)
  add_compile_options(${DDX_CPU_BASELINE})
endif()
