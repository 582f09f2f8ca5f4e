#!/usr/bin/env bash
# Makes the Debian package with `cpack -G DEB` from a build folder (into a temporary folder) and
# checks it without installing it: its control fields, that its Depends name the Debian packages
# of every shared library its ELF files need, its files, its shlibs, and that the CLI unpacked
# from it (dpkg-deb -x) runs against the library unpacked with it.
# usage: deb_test.sh BUILD_DIR SOURCE_DIR VERSION ABI
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
version=$3
abi=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sb-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() { echo "deb_test: FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps file readelf; do
  command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

echo "== cpack -G DEB"
(cd "$tmp" && cpack -G DEB -B "$tmp/out" --config "$build/CPackConfig.cmake") >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack"; }
debs=("$tmp"/out/supportbot_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one supportbot_*.deb, got: ${debs[*]}"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "supportbot_${version}_${arch}.deb" ] || fail "file name $(basename "$deb")"
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"

echo "== control fields"
[ "$(dpkg-deb -f "$deb" Package)" = supportbot ] || fail "Package"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is $(dpkg-deb -f "$deb" Version)"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
# The package names alone, one a line.
dep_names=$(tr ',' '\n' <<<"$depends" | sed 's/(.*)//; s/|.*//; s/[[:space:]]//g' | grep .)
# The run-time libraries the library and the CLI are known to need, by Debian package.
for want in 'libc6' 'libstdc\+\+6' 'libpqxx-[0-9.]+' 'libcurl4' 'libsqlite3-0' 'libssl3' \
            'libutf8proc[0-9]+' 'libstemmer0d' 'libsimdjson[0-9]+'; do
  grep -qxE "$want" <<<"$dep_names" || fail "Depends lacks $want"
done
# Every name is a real package (here, installed: the build needed each of them).
for name in $dep_names; do
  status=$(dpkg-query -W -f='${Status}' "$name" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || fail "Depends names $name, which is not an installed package"
done

echo "== files"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||' >"$tmp/files"
libdir=$(grep -E '/libsupportbot\.a$' "$tmp/files" | xargs -r dirname)
[ -n "$libdir" ] || fail "no libsupportbot.a in the package"
for f in usr/include/supportbot/supportbot.h usr/include/supportbot/supportbot.hpp \
         usr/bin/supportbot usr/share/man/man1/supportbot.1.gz \
         usr/bin/supportbot-server usr/share/man/man1/supportbot-server.1.gz \
         "$libdir/libsupportbot.so" "$libdir/libsupportbot.so.$abi" \
         "$libdir/pkgconfig/supportbot.pc" "$libdir/cmake/supportbot/supportbotConfig.cmake" \
         "$libdir/cmake/supportbot/supportbotConfigVersion.cmake" \
         "$libdir/cmake/supportbot/supportbotTargets.cmake"; do
  grep -qxF "$f" "$tmp/files" || fail "$f is not in the package"
done
outside=$(grep -vE '^(usr/.*|\.?/?)$' "$tmp/files" || true)
[ -z "$outside" ] || fail "files outside /usr: $outside"
if grep -E '^usr/share/man/.*\.[1-9]$' "$tmp/files"; then fail "man pages not gzipped"; fi
dpkg-deb -e "$deb" "$tmp/control"
grep -qxF "libsupportbot $abi supportbot (>= $version)" "$tmp/control/shlibs" ||
  fail "shlibs is '$(cat "$tmp/control/shlibs")'"
grep -q ldconfig "$tmp/control/postinst" 2>/dev/null || [ -f "$tmp/control/triggers" ] ||
  fail "no ldconfig trigger or postinst"

echo "== unpacked"
root=$tmp/root
dpkg-deb -x "$deb" "$root"
(cd "$root" && md5sum --quiet -c "$tmp/control/md5sums") || fail "md5sums do not match the files"
export LD_LIBRARY_PATH="$root/$libdir"
# Every library an ELF file of the package needs comes from a package the Depends names.
owner_of() {  # the package that installed a file (dpkg knows it by one of its merged-/usr names)
  local p
  for p in "$1" "$(readlink -f "$1")" "${1#/usr}" "/usr$1"; do
    dpkg -S "$p" 2>/dev/null | head -n1 | cut -d: -f1 && return
  done
}
for elf in "$root/usr/bin/"* "$root/$libdir/libsupportbot.so.$abi"; do
  resolved=$(ldd "$elf")
  for soname in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ "$soname" = "libsupportbot.so.$abi" ] && continue
    path=$(awk -v so="$soname" '$1 == so && $2 == "=>" {print $3} $1 ~ "/" so "$" {print $1}' <<<"$resolved" | head -n1)
    [ -n "$path" ] || fail "$(basename "$elf") needs $soname, which ldd does not find"
    owner=$(owner_of "$path")
    [ -n "$owner" ] || fail "$(basename "$elf") needs $soname ($path), which no installed package has"
    grep -qxF "$owner" <<<"$dep_names" ||
      fail "$(basename "$elf") needs $soname from $owner, which Depends does not name"
  done
done
cli=$root/usr/bin/supportbot
deps=$(ldd "$cli")
grep -q "libsupportbot.so.$abi => $root/" <<<"$deps" ||
  fail "the unpacked CLI does not load the unpacked library: $(grep supportbot <<<"$deps")"
out=$("$cli" version)
[ "$out" = "supportbot $version (ABI $abi)" ] || fail "supportbot version printed '$out'"
out=$("$cli" search --faqs "$src/tests/install/faqs_small.json" -k 1 "how can I track my order")
grep -q '^answer:' <<<"$out" && grep -q '\[order-status\]' <<<"$out" ||
  fail "supportbot search: $out"
"$cli" --help >/dev/null || fail "supportbot --help"
export PKG_CONFIG_PATH="$root/$libdir/pkgconfig"
[ "$(pkg-config --variable=prefix supportbot)" = /usr ] ||
  fail "supportbot.pc's prefix is $(pkg-config --variable=prefix supportbot), not /usr"
echo "deb_test: ok"
