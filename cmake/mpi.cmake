# cmake/mpi.cmake — ddx-mpi (tools/mpi: the eval contract over MPI ranks)
# and its tests, built when CMake finds an MPI C library (Debian:
# libopenmpi-dev + openmpi-bin; tests/ci/mpi.sh installs them in CI).
find_package(MPI COMPONENTS C QUIET)
if(NOT MPI_C_FOUND)
  message(STATUS "ddx: MPI not found, ddx-mpi is not built (apt-get install libopenmpi-dev openmpi-bin)")
  return()
endif()
message(STATUS "ddx: MPI found (${MPI_C_LIBRARY_VERSION_STRING}), building ddx-mpi")
# cli_common.c, cli_limits.c: the same option parsing, limits and model setup as `ddx`
add_executable(ddx-mpi ${CMAKE_SOURCE_DIR}/tools/mpi/ddx_mpi.c ${CMAKE_SOURCE_DIR}/tools/mpi/npy_slice.c
               ${CMAKE_SOURCE_DIR}/tools/cli/cli_common.c ${CMAKE_SOURCE_DIR}/tools/cli/cli_limits.c)
target_include_directories(ddx-mpi PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_options(ddx-mpi PRIVATE ${DDX_WARN} -O2)
target_link_libraries(ddx-mpi PRIVATE ddx_tools MPI::MPI_C)
find_program(DDX_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
if(DDX_MPIEXEC)
  # with the CUDA tests, the mock driver lets the script run GPU ranks too
  set(_ddx_mpi_mock "")
  if(TARGET ddx_cuda_mock)
    set(_ddx_mpi_mock $<TARGET_FILE:ddx_cuda_mock>)
  endif()
  add_test(NAME mpi_test_mpi COMMAND bash ${CMAKE_SOURCE_DIR}/tests/mpi/test_mpi.sh $<TARGET_FILE:ddx-mpi>
                                     $<TARGET_FILE:ddx> ${DDX_MPIEXEC} ${_ddx_mpi_mock})
  # Open MPI keeps allocations until exit in components it dlcloses (the
  # leak reports have no frames to suppress them by): under the sanitizer
  # build this one test runs without the leak checker, with ASan/UBSan on
  set_tests_properties(mpi_test_mpi PROPERTIES TIMEOUT 300 ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endif()
