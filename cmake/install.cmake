# cmake/install.cmake — `cmake --install` puts ddx where a C library goes:
#   include/ddx.h, include/ddx_ops.def (ddx.h includes the op table)
#   lib/libddx.a, lib/libddx.so -> libddx.so.0 -> libddx.so.0.1.0
#   bin/ddx
#   lib/cmake/ddx/: find_package(ddx) gives ddx::ddx (shared) and
#                   ddx::ddx_static (static; needs OpenMP, and NVRTC when
#                   built with CUDA, which the package config finds)
#   lib/pkgconfig/ddx.pc: pkg-config --cflags --libs ddx (--static for .a)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# installed binaries keep the run path of libraries outside the prefix
# (NVRTC in the CUDA toolkit's lib directory)
set_target_properties(ddx_shared ddx PROPERTIES INSTALL_RPATH_USE_LINK_PATH TRUE)

install(FILES ${CMAKE_SOURCE_DIR}/include/ddx.h ${CMAKE_SOURCE_DIR}/include/ddx_ops.def
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ddx_static ddx_shared EXPORT ddxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ddx RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT ddxTargets NAMESPACE ddx:: FILE ddxTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ddx)

set(DDX_CONFIG_HAVE_CUDA ${DDX_HAVE_CUDA})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/ddxConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/ddxConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ddx)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ddxConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ddxConfig.cmake ${CMAKE_BINARY_DIR}/ddxConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ddx)

# pkg-config: the shared library by default; Libs.private for static links
set(DDX_PC_LIBS_PRIVATE "${OpenMP_C_FLAGS} -lm")
set(DDX_PC_REQUIRES_PRIVATE "")
if(DDX_HAVE_CUDA)
  string(APPEND DDX_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lnvrtc -ldl")
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/ddx.pc.in ${CMAKE_BINARY_DIR}/ddx.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ddx.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
