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

# Tests (added once the test targets exist, at the end of the top
# directory): the FD suites under every variant of this architecture
# (skipped where the CPU lacks it), and the baseline objects' ISA.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(DDX_CPU_ISAS avx512 avx2 generic)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(DDX_CPU_ISAS neon generic)
endif()
function(ddx_cpu_variant_tests)
  if(NOT TARGET test_mlp_fd)
    return()
  endif()
  foreach(isa ${DDX_CPU_ISAS})
    foreach(t test_mlp_fd test_identities)
      add_test(NAME ${t}_${isa} COMMAND ${t})
      set_tests_properties(${t}_${isa} PROPERTIES
        ENVIRONMENT "DDX_CPU_ISA=${isa};DDX_BIN=$<TARGET_FILE:ddx>;DDX_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
        SKIP_REGULAR_EXPRESSION "lacks the [a-z0-9]+ instructions")
    endforeach()
  endforeach()
  if(DDX_CPU_BASELINE STREQUAL "-march=x86-64-v2" AND NOT DDX_NATIVE)
    add_test(NAME cpu_baseline_isa COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cpu_baseline_isa.sh
             ${CMAKE_BINARY_DIR}/CMakeFiles/ddx_obj.dir)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL ddx_cpu_variant_tests)
