#!/usr/bin/env bash
# Installs supportbot from a build folder into a temporary prefix, then builds the README's C and
# C++ examples (taken from README.md's "<!-- example: NAME -->" blocks) against the installed copy
# both ways, with CMake's find_package and with pkg-config, linked with the shared and with the
# static library, and runs them. Also checks the installed files, the SONAME and the tools'
# --help and man pages: every tool has a page, which names every option, setting and placeholder
# of its --help, describes no setting that --help does not name, and names no option the tool
# refuses.
# The examples run on tests/install/faqs_small.json, ten entries of faqs.json, which index in a
# fraction of the time.
# usage: install_test.sh BUILD_DIR SOURCE_DIR VERSION ABI ABI_SINCE
#   (ABI_SINCE: the first version of this ABI, cmake/Install.cmake's SB_ABI_SINCE)
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
version=$3
abi=$4
since=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

step "cmake --install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }

# The library folder (lib, or lib/<multiarch> when installed to /usr).
libdir=$(dirname "$(find "$prefix" -name libsupportbot.a -print -quit)")
[ -d "$libdir" ] || fail "no libsupportbot.a installed"
for f in include/supportbot/supportbot.h include/supportbot/supportbot.hpp bin/supportbot \
         share/man/man1/supportbot.1; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
for f in libsupportbot.so "libsupportbot.so.$abi" pkgconfig/supportbot.pc \
         cmake/supportbot/supportbotConfig.cmake cmake/supportbot/supportbotConfigVersion.cmake \
         cmake/supportbot/supportbotTargets.cmake cmake/supportbot/supportbotStaticTargets.cmake; do
  [ -e "$libdir/$f" ] || fail "${libdir#"$prefix"/}/$f not installed"
done
# Every installed tool has its man page (the server is installed when it is built).
for tool in "$prefix"/bin/*; do
  [ -f "$prefix/share/man/man1/$(basename "$tool").1" ] ||
    fail "share/man/man1/$(basename "$tool").1 not installed"
done
[ -L "$libdir/libsupportbot.so" ] && [ -L "$libdir/libsupportbot.so.$abi" ] ||
  fail "libsupportbot.so and libsupportbot.so.$abi should be symlinks"
soname=$(readelf -d "$libdir/libsupportbot.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libsupportbot.so.$abi" ] || fail "SONAME is '$soname', not libsupportbot.so.$abi"
# (Pipelines into grep -q are avoided: with pipefail, the writer's SIGPIPE would fail them.)
dyn=$(readelf -d "$prefix/bin/supportbot")
if [[ $(grep -E 'R(UN)?PATH' <<<"$dyn" || true) == *"$build"* ]]; then
  fail "the installed CLI still points at the build folder"
fi

step "the README's examples"
mkdir -p "$tmp/examples"
for name in example.c example.cpp; do
  awk -v name="$name" '
    $0 == "<!-- example: " name " -->" { want = 1; next }
    want && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' "$src/README.md" >"$tmp/examples/$name"
  [ -s "$tmp/examples/$name" ] || fail "README.md has no block marked <!-- example: $name -->"
done

export LD_LIBRARY_PATH="$libdir"
export SECRET_KEY=install-test-signing-key-0123456789abcdef
run_examples() {  # $1: a label; $2: the folder with example_c and example_cpp
  local label=$1 dir=$2 out
  for exe in "$dir/example_c" "$dir/example_cpp"; do
    # What each example prints when it answers (the C one then chats).
    case $(basename "$exe") in
      example_c) args=("$src/tests/install/faqs_small.json" "how can I track my order")
                 want=("^search: answer order-status " "^chat: .*Account > Orders") ;;
      *) args=("$src/tests/install/faqs_small.json" "how do I get my money back")
         want=("^answer " "^  refund-timing  0\\.[0-9]" "^We process refunds") ;;
    esac
    rm -f "$tmp/run.db"
    out=$(cd "$tmp" && DATABASE_URL="sqlite://$tmp/run.db" "$exe" "${args[@]}" 2>&1) ||
      fail "$label: $(basename "$exe") failed: $out"
    for w in "${want[@]}"; do
      grep -q "$w" <<<"$out" || fail "$label: $(basename "$exe") printed no line like '$w': $out"
    done
    echo "$label $(basename "$exe"): ok"
  done
}
check_linkage() {  # $1: executable; $2: shared | static
  local needed
  needed=$(readelf -d "$1" | grep NEEDED || true)
  if [ "$2" = shared ]; then
    grep -q "libsupportbot.so.$abi" <<<"$needed" || fail "$1 does not link libsupportbot.so.$abi"
    local deps
    deps=$(ldd "$1")
    grep -q "libsupportbot.so.$abi => $libdir/" <<<"$deps" ||
      fail "$1 does not load the installed library: $(grep supportbot <<<"$deps")"
  else
    if grep -q 'libsupportbot' <<<"$needed"; then fail "$1 should not need libsupportbot.so"; fi
  fi
}

step "the CMake package's version check"
cat >"$tmp/version_check.cmake" <<'CHECK'
# -DFILE=supportbotConfigVersion.cmake -DASK=version or min...max -DWANT=TRUE|FALSE
if(ASK MATCHES "^(.+)\\.\\.\\.(<?)(.+)$")
  set(PACKAGE_FIND_VERSION_RANGE "${ASK}")
  set(PACKAGE_FIND_VERSION_MIN "${CMAKE_MATCH_1}")
  set(PACKAGE_FIND_VERSION "${CMAKE_MATCH_1}")
  set(PACKAGE_FIND_VERSION_MAX "${CMAKE_MATCH_3}")
  set(PACKAGE_FIND_VERSION_RANGE_MAX INCLUDE)
  if(CMAKE_MATCH_2)
    set(PACKAGE_FIND_VERSION_RANGE_MAX EXCLUDE)
  endif()
else()
  set(PACKAGE_FIND_VERSION "${ASK}")
endif()
set(CMAKE_SIZEOF_VOID_P 8)
include("${FILE}")
if(NOT "${PACKAGE_VERSION_COMPATIBLE}" STREQUAL "${WANT}")
  message(FATAL_ERROR "asking for ${ASK}: compatible is '${PACKAGE_VERSION_COMPATIBLE}', not ${WANT}")
endif()
CHECK
# Accepted: this version, the first one of this ABI, ranges from it. Refused: a newer minor or
# major version, a range that ends before this version, a version before this ABI's first.
IFS=. read -r major minor _ <<<"$version"
IFS=. read -r since_major since_minor _ <<<"$since"
cases=("$version:TRUE" "$since:TRUE" "$since...$version:TRUE" "$since...$major.$((minor + 9)):TRUE"
       "$major.$((minor + 1)):FALSE" "$((major + 1)).0:FALSE" "$since...<$since:FALSE")
if [ "$since_minor" -gt 0 ]; then
  cases+=("$since_major.$((since_minor - 1)):FALSE" "$since_major.$((since_minor - 1))...$version:FALSE")
fi
for pair in "${cases[@]}"; do
  cmake -DFILE="$libdir/cmake/supportbot/supportbotConfigVersion.cmake" -DASK="${pair%:*}" \
    -DWANT="${pair##*:}" -P "$tmp/version_check.cmake" || fail "version check ${pair%:*}"
done

step "find_package(supportbot CONFIG)"
cmake -S "$src/tests/install/consumer" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DEXAMPLES_DIR="$tmp/examples" -DWANT_VERSION="$since" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "configuring the consumer"; }
grep -q "supportbot $version from $libdir/cmake/supportbot" "$tmp/cmake.log" ||
  { cat "$tmp/cmake.log"; fail "find_package did not find the installed package"; }
cmake --build "$tmp/cmake" -j2 >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building the consumer"; }
for kind in shared static; do
  mkdir -p "$tmp/cmake-$kind"
  for lang in c cpp; do
    cp "$tmp/cmake/example_${lang}_$kind" "$tmp/cmake-$kind/example_$lang"
    check_linkage "$tmp/cmake-$kind/example_$lang" $kind
  done
  run_examples "cmake $kind" "$tmp/cmake-$kind"
done

step "pkg-config --cflags --libs supportbot"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion supportbot)" = "$version" ] || fail "pkg-config --modversion"
[ "$(pkg-config --variable=libdir supportbot)" -ef "$libdir" ] ||
  fail "the .pc's libdir $(pkg-config --variable=libdir supportbot) is not $libdir"
mkdir -p "$tmp/pc-shared" "$tmp/pc-static"
ex=$tmp/examples
# shellcheck disable=SC2046
{
  cc -std=c99 -Wall -Wextra -Werror -o "$tmp/pc-shared/example_c" "$ex/example.c" \
    $(pkg-config --cflags --libs supportbot)
  c++ -std=c++17 -Wall -Wextra -Werror -o "$tmp/pc-shared/example_cpp" "$ex/example.cpp" \
    $(pkg-config --cflags --libs supportbot)
  # The README's recipe for the static library.
  cc -o "$tmp/pc-static/example_c" "$ex/example.c" $(pkg-config --cflags supportbot) \
    -Wl,-Bstatic -lsupportbot -Wl,-Bdynamic -Wl,--as-needed $(pkg-config --static --libs supportbot)
  c++ -std=c++17 -o "$tmp/pc-static/example_cpp" "$ex/example.cpp" $(pkg-config --cflags supportbot) \
    -Wl,-Bstatic -lsupportbot -Wl,-Bdynamic -Wl,--as-needed $(pkg-config --static --libs supportbot)
} || fail "building with pkg-config"
for kind in shared static; do
  for lang in c cpp; do check_linkage "$tmp/pc-$kind/example_$lang" $kind; done
  run_examples "pkg-config $kind" "$tmp/pc-$kind"
done

step "the tools' --help and man pages"
man_text() { sed 's/\\-/-/g; s/\\//g' "$1"; }  # the page's source without troff's backslashes
# The options a page names in its SYNOPSIS, DESCRIPTION and OPTIONS (not in its EXAMPLES, which
# show other programs' options too).
man_options() {
  awk '/^\.SH (ENVIRONMENT|EXIT STATUS|EXAMPLES|SEE ALSO|FILES|SIGNALS|ACCOUNTS)/ { skip = 1 }
       /^\.SH (SYNOPSIS|DESCRIPTION|COMMANDS|OPTIONS)/ { skip = 0 } !skip' "$1" |
    sed 's/\\-/-/g; s/\\//g' |
    grep -oE -- '(^|[^[:alnum:]-])--?[a-z][a-z-]*' | grep -oE -- '--?[a-z][a-z-]*' | sort -u
}
for tool in "$prefix"/bin/*; do
  name=$(basename "$tool")
  help=$("$tool" --help 2>&1) || fail "$name --help failed"
  [ -n "$help" ] || fail "$name --help printed nothing"
  page=$prefix/share/man/man1/$name.1
  if command -v groff >/dev/null; then
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1 || true)
    [ -z "$warnings" ] || fail "$name.1 has troff warnings: $warnings"
  fi
  # Every option the usage names is in the man page,
  text=$(man_text "$page")
  for opt in $(grep -oE -- '(^|[^[:alnum:]-])--?[a-z][a-z-]*' <<<"$help" | grep -oE -- '--?[a-z][a-z-]*' | sort -u); do
    grep -qE -- "(^|[^[:alnum:]-])$opt([^[:alnum:]-]|\$)" <<<"$text" ||
      fail "$name.1 does not mention $opt, which $name --help does"
  done
  # and every environment variable and placeholder (capitals: SECRET_KEY, FILE, ...).
  for word in $(grep -oE '\b[A-Z][A-Z0-9_]{2,}\b' <<<"$help" | sort -u); do
    grep -qE -- "(^|[^[:alnum:]_])$word([^[:alnum:]_]|\$)" <<<"$text" ||
      fail "$name.1 does not mention $word, which $name --help does"
  done
  # The other way round: every variable the page's ENVIRONMENT section describes (its .TP tags)
  # is one the usage names, so that the page invents none.
  tags=$(awk '/^\.SH/ { env = ($0 ~ /^\.SH ENVIRONMENT/) } env && tp { print; tp = 0 }
              env && /^\.TP/ { tp = 1 }' "$page")
  [ -n "$tags" ] || fail "$name.1 has no ENVIRONMENT section with .TP entries"
  for word in $(grep -oE '\b[A-Z][A-Z0-9_]{2,}\b' <<<"$tags" | sort -u); do
    grep -qE -- "(^|[^[:alnum:]_])$word([^[:alnum:]_]|\$)" <<<"$help" ||
      fail "$name.1 describes $word, which $name --help does not name"
  done
  # And the tool accepts every option its page names: the parsers reject unknown options before
  # doing anything ("supportbot version" ignores the rest; the server's --print-routes prints
  # the routes without opening a database).
  for opt in $(man_options "$page"); do
    case $name in
      supportbot) err=$("$tool" version "$opt" 1 2>&1 >/dev/null || true) ;;
      supportbot-server) err=$("$tool" --print-routes "$opt" 2>&1 >/dev/null </dev/null || true) ;;
      *) fail "no check of the options of $name" ;;
    esac
    if grep -qE "unknown (option|argument)" <<<"$err"; then
      fail "$name.1 names $opt, which $name does not accept: $(tail -n1 <<<"$err")"
    fi
  done
  echo "$name: --help and $name.1 agree"
done
out=$("$prefix/bin/supportbot" version)
[ "$out" = "supportbot $version (ABI $abi)" ] || fail "supportbot version printed '$out'"
echo "install_test: ok"
