# What `cmake --install` puts in place (and what cpack packs):
#   include/supportbot/            the C header (the ABI) and the header-only C++ wrapper
#   lib/libsupportbot.so.*         the shared library (SONAME libsupportbot.so.<ABI>) and symlinks
#   lib/libsupportbot.a            the static library
#   lib/cmake/supportbot/          find_package(supportbot CONFIG): supportbot::supportbot (shared)
#                                  and supportbot::supportbot_static (static; needs the
#                                  dependencies' development files, see supportbotConfig.cmake.in)
#   lib/pkgconfig/supportbot.pc    pkg-config (--static adds what the static library needs)
#   bin/supportbot                 the CLI (and bin/supportbot-server when the server is built)
#   share/man/man1/                their man pages
include(CMakePackageConfigHelpers)

set(SB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/supportbot)

# The shared and the static library are two export sets: the shared one needs nothing at build
# time beyond the header, the static one the development files of every dependency.
install(TARGETS supportbot EXPORT supportbotTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS supportbot_static EXPORT supportbotStaticTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/supportbot DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT development)
install(EXPORT supportbotTargets NAMESPACE supportbot:: DESTINATION ${SB_CMAKE_DIR}
  COMPONENT development)
install(EXPORT supportbotStaticTargets NAMESPACE supportbot:: DESTINATION ${SB_CMAKE_DIR}
  COMPONENT development)
configure_package_config_file(cmake/supportbotConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfig.cmake
  INSTALL_DESTINATION ${SB_CMAKE_DIR})
# Versions of one ABI add to it and never break it; a new SB_ABI_VERSION (a new SONAME) does.
# The version file accepts a request for any version from the first one of this ABI
# (SB_ABI_SINCE, set beside SB_ABI_VERSION) up to this one.
configure_file(cmake/supportbotConfigVersion.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfigVersion.cmake @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/supportbotConfigVersion.cmake
  DESTINATION ${SB_CMAKE_DIR} COMPONENT development)

# pkg-config. The file is written at install time with the prefix it is installed under
# (`cmake --install --prefix`, or /usr for the .deb); DESTDIR does not change it.
set(SB_PC_PREFIX "@SB_PC_PREFIX@")  # left for the install step to fill
configure_file(cmake/supportbot.pc.in ${CMAKE_CURRENT_BINARY_DIR}/supportbot.pc.in @ONLY)
# The file is made beside its destination (installs that run at once, as cpack and the tests'
# `cmake --install --prefix` do, each have their own), then installed, so that it is in the
# install manifest.
install(CODE "
  set(SB_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(sb_pc_dir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  set(sb_pc_tmp \"\$ENV{DESTDIR}\${sb_pc_dir}/supportbot.pc.tmp\")
  configure_file(\"${CMAKE_CURRENT_BINARY_DIR}/supportbot.pc.in\" \"\${sb_pc_tmp}\" @ONLY)
  file(INSTALL DESTINATION \"\${sb_pc_dir}\" TYPE FILE RENAME supportbot.pc
       FILES \"\${sb_pc_tmp}\")
  file(REMOVE \"\${sb_pc_tmp}\")
" COMPONENT development)

# The tools and their man pages (each page lists what the tool's --help does; ctest
# install_consumers checks it). The HTTP server (examples/http_server, target supportbot_server)
# installs its binary itself; its page is installed here when it is built.
install(TARGETS supportbot_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(FILES man/supportbot.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
if(TARGET supportbot_server)
  install(FILES man/supportbot-server.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
endif()
