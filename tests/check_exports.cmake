# Checks the shared library's dynamic symbols against the ABI's list, cmake/supportbot.symbols,
# and the list against the functions the public header declares:
#   - every symbol exported is listed (nothing internal leaks), and every listed one is exported;
#   - every exported function carries the symbol version VERSION_NODE (SUPPORTBOT_<ABI>);
#   - the header declares (SB_API) exactly the listed functions.
# Prints every difference, each with what to do, then fails.
# usage: cmake -DLIB=libsupportbot.so -DSYMBOLS=cmake/supportbot.symbols
#              -DHEADER=include/supportbot/supportbot.h -DVERSION_NODE=SUPPORTBOT_2 -P this
# After adding functions to the header, the list can be rewritten from it (then review the diff):
#        cmake -DSYMBOLS=cmake/supportbot.symbols -DHEADER=include/supportbot/supportbot.h
#              -DUPDATE=ON -P tests/check_exports.cmake
cmake_minimum_required(VERSION 3.22)

# The header's SB_API declarations, comments removed.
function(sb_declared_functions header out)
  file(READ ${header} text)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
  string(REGEX MATCHALL "SB_API[^;(]*[ *](sb_[a-z0-9_]+)[ \t\n]*\\(" decls "${text}")
  set(names "")
  foreach(d IN LISTS decls)
    string(REGEX MATCH "(sb_[a-z0-9_]+)[ \t\n]*\\($" m "${d}")
    list(APPEND names ${CMAKE_MATCH_1})
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

if(UPDATE)
  sb_declared_functions(${HEADER} declared)
  list(SORT declared)
  file(STRINGS ${SYMBOLS} comments REGEX "^#")
  list(APPEND comments ${declared})
  list(JOIN comments "\n" text)
  file(WRITE ${SYMBOLS} "${text}\n")
  list(LENGTH declared n)
  message(STATUS "${SYMBOLS}: ${n} functions, from ${HEADER}")
  return()
endif()

foreach(v LIB SYMBOLS HEADER VERSION_NODE)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check_exports.cmake needs -D${v}=...")
  endif()
endforeach()

execute_process(COMMAND nm -D --defined-only ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(exported "")
set(problems "")
foreach(line IN LISTS lines)
  if(line MATCHES "^[0-9a-f]+ ([A-Za-z]) ([^@]+)(@@?([^ ]+))?$")
    set(kind ${CMAKE_MATCH_1})
    set(name ${CMAKE_MATCH_2})
    set(node "${CMAKE_MATCH_4}")
    if(kind STREQUAL "A" AND name STREQUAL VERSION_NODE)
      continue()  # the version definition itself
    endif()
    list(APPEND exported ${name})
    if(NOT node STREQUAL VERSION_NODE)
      list(APPEND problems "${name} is exported with version '${node}', not ${VERSION_NODE}")
    endif()
  endif()
endforeach()

file(STRINGS ${SYMBOLS} listed REGEX "^[^#]")
list(TRANSFORM listed STRIP)

sb_declared_functions(${HEADER} declared)

foreach(list_name exported listed declared)
  list(REMOVE_DUPLICATES ${list_name})
endforeach()

get_filename_component(symbols_name ${SYMBOLS} NAME)
get_filename_component(lib_name ${LIB} NAME)
foreach(name IN LISTS exported)
  if(NOT name IN_LIST listed)
    if(name IN_LIST declared)
      list(APPEND problems "${name}: exported and declared in the header, but not in ${symbols_name} (a new function? add it there)")
    else()
      list(APPEND problems "${name}: exported, but neither listed in ${symbols_name} nor declared in the header (an internal symbol leaking?)")
    endif()
  endif()
endforeach()
foreach(name IN LISTS listed)
  if(NOT name IN_LIST exported)
    list(APPEND problems "${name}: listed in ${symbols_name} but not exported by ${lib_name} (not implemented, or not SB_API?)")
  endif()
  if(NOT name IN_LIST declared)
    list(APPEND problems "${name}: listed in ${symbols_name} but not declared in the header")
  endif()
endforeach()
foreach(name IN LISTS declared)
  if(NOT name IN_LIST listed AND NOT name IN_LIST exported)
    list(APPEND problems "${name}: declared in the header but neither listed in ${symbols_name} nor exported")
  endif()
endforeach()

list(LENGTH exported n_exported)
list(LENGTH listed n_listed)
list(LENGTH declared n_declared)
if(problems)
  list(LENGTH problems n)
  string(REPLACE ";" "\n  " text "${problems}")
  message(FATAL_ERROR "${n} ABI symbol problem(s) (${n_exported} exported, ${n_listed} listed, "
                      "${n_declared} declared):\n  ${text}")
endif()
message(STATUS "${n_exported} symbols exported, all listed in ${symbols_name} and declared in "
               "the header, all version ${VERSION_NODE}")
