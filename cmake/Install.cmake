include(CMakePackageConfigHelpers)
install(TARGETS supportbot supportbot_static EXPORT supportbotTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/supportbot DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT supportbotTargets NAMESPACE supportbot::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/supportbot)
configure_package_config_file(cmake/supportbotConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/supportbot)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/supportbotConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/supportbot)
