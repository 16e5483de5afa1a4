# `cmake --install`: the binary, the libraries, the headers and a CMake
# package, so that another project can
#   find_package(batchtune REQUIRED)
#   target_link_libraries(app PRIVATE batchtune::batchtune)
# (examples/ does exactly that, and CI builds it against an installed tree).
include(CMakePackageConfigHelpers)

install(TARGETS batchtune RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS batchtune_api batchtune_run batchtune_dist batchtune_plan batchtune_workload batchtune_probes batchtune_run_analysis batchtune_report_tools batchtune_report_render
  batchtune_report_analysis batchtune_report_model batchtune_report_util batchtune_torch
  EXPORT batchtuneTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The public header, and the headers it reaches, under include/batchtune/ with
# the paths the sources use ("reports/...", "tuner/run/...").
install(FILES ${PROJECT_SOURCE_DIR}/include/batchtune/batchtune.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/batchtune)
foreach(_dir reports probes tuner/workload tuner/plan tuner/dist tuner/run)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_dir}/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/batchtune/${_dir}
    FILES_MATCHING PATTERN "*.hpp")
endforeach()

set(_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/batchtune)
install(EXPORT batchtuneTargets NAMESPACE batchtune:: DESTINATION ${_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/batchtuneConfig.cmake.in
  ${PROJECT_BINARY_DIR}/batchtuneConfig.cmake INSTALL_DESTINATION ${_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/batchtuneConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/batchtuneConfig.cmake ${PROJECT_BINARY_DIR}/batchtuneConfigVersion.cmake
  DESTINATION ${_cmake_dir})
