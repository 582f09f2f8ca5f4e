#!/usr/bin/env bash
# The public header compiles cleanly, with every warning an error, as
#   C99 and C11 with gcc and clang (supportbot.h),
#   C++11 and C++20 with g++ and clang++ (supportbot.h),
#   C++17 and C++20 with g++ and clang++ (supportbot.hpp, the header-only wrapper),
# and the wrapper refuses C++14 with its own message. clang runs with -Weverything, less
# -Wpadded (the structs' padding is part of the ABI and cannot change) and, for C++, the C++98
# compatibility warnings (and -Wweak-vtables for the wrapper, whose exception class is header-only
# by design).
# usage: header_check.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
inc=$src/include
here=$src/tests/abi
fail() { echo "header_check: FAIL: $*" >&2; exit 1; }
for tool in gcc clang g++ clang++; do
  command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

gcc_c=(-Wall -Wextra -Wpedantic -Werror -Wconversion -Wsign-conversion -Wshadow -Wcast-qual
       -Wstrict-prototypes -Wmissing-prototypes -Wredundant-decls -Wundef -Wc++-compat)
gcc_cxx=(-Wall -Wextra -Wpedantic -Werror -Wconversion -Wsign-conversion -Wshadow -Wcast-qual
         -Wold-style-cast -Wuseless-cast -Wzero-as-null-pointer-constant -Wredundant-decls
         -Wundef -Wnon-virtual-dtor -Woverloaded-virtual -Wmissing-declarations)
clang_c=(-Weverything -Wno-padded -Werror)
clang_cxx=(-Weverything -Wno-padded -Wno-c++98-compat -Wno-c++98-compat-pedantic -Werror)

compile() {  # label, then the compiler command
  local label=$1 out
  shift
  if ! out=$("$@" -I"$inc" -c -o /dev/null 2>&1); then
    echo "$out" >&2
    fail "$label"
  fi
  echo "ok: $label"
}

for std in c99 c11; do
  compile "gcc -std=$std supportbot.h" gcc -std=$std "${gcc_c[@]}" "$here/header_use.c"
  compile "clang -std=$std supportbot.h" clang -std=$std "${clang_c[@]}" "$here/header_use.c"
done
for std in c++11 c++20; do
  compile "g++ -std=$std supportbot.h" g++ -std=$std "${gcc_cxx[@]}" -x c++ "$here/header_use.c"
  compile "clang++ -std=$std supportbot.h" clang++ -std=$std "${clang_cxx[@]}" -x c++ "$here/header_use.c"
done
for std in c++17 c++20; do
  compile "g++ -std=$std supportbot.hpp" g++ -std=$std "${gcc_cxx[@]}" "$here/wrapper_use.cpp"
  compile "clang++ -std=$std supportbot.hpp" clang++ -std=$std "${clang_cxx[@]}" -Wno-weak-vtables \
    "$here/wrapper_use.cpp"
done
for cxx in g++ clang++; do
  if out=$($cxx -std=c++14 -I"$inc" -c -o /dev/null "$here/wrapper_use.cpp" 2>&1); then
    fail "$cxx -std=c++14 compiled supportbot.hpp, which says it needs C++17"
  fi
  grep -q "supportbot.hpp needs C++17" <<<"$out" || { echo "$out" >&2; fail "$cxx -std=c++14: not the wrapper's message"; }
  echo "ok: $cxx -std=c++14 refuses supportbot.hpp with its message"
done
echo "header_check: ok"
