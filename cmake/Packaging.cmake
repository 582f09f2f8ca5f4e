# `cpack -G DEB` (in the build folder): one Debian package, supportbot_<version>_<arch>.deb, with
# the library (shared and static), the headers, the CMake and pkg-config files, the tools and
# their man pages, installed under /usr. The run-time dependencies are found by dpkg-shlibdeps
# (dpkg-dev) from the ELF files' NEEDED entries; `file` must be installed for CPack to use it.
set(CPACK_PACKAGE_NAME supportbot)
set(CPACK_PACKAGE_VENDOR "supportbot")
set(CPACK_PACKAGE_CONTACT "supportbot maintainers <supportbot@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "embeddable AI customer-support bot library (C ABI), with its CLI")
set(CPACK_PACKAGE_DESCRIPTION
    "libsupportbot gives a host application a customer-support bot: FAQ retrieval with
calibrated confidence and escalation to a human, chat sessions stored in SQLite or
PostgreSQL, LLM providers (Gemini, OpenAI-compatible servers), accounts with JWT access
tokens, session summaries and analytics. Its interface is a stable C ABI
(libsupportbot.so.${SB_ABI_VERSION}); a header-only C++ wrapper, the static library, CMake and
pkg-config files and the supportbot command-line tool are included.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tools need libsupportbot.so.N from this same package: dpkg-shlibdeps looks for it there.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
    ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})
# A shlibs file (so that packages built against this one depend on it) and the ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Building against the static library needs its dependencies' development files.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "pkg-config, libsimdjson-dev, libsqlite3-dev, libssl-dev, libcurl4-openssl-dev, libutf8proc-dev, libpqxx-dev, libstemmer-dev")

set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/CPackGzipManPages.cmake)

include(CPack)
