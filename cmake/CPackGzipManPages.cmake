# Run by CPack (CPACK_PRE_BUILD_SCRIPTS) on the staged install tree before it is packed: Debian
# ships man pages gzipped (`gzip -9n`: no name or time stamp inside, so the package is
# reproducible).
file(GLOB_RECURSE sb_pages "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/share/man/man[1-9]/*.[1-9]")
foreach(page IN LISTS sb_pages)
  execute_process(COMMAND gzip -9nf "${page}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${page} failed")
  endif()
endforeach()
