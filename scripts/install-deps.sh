#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking supportbot needs.
# Idempotent: installs only what is missing. Run as root on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git python3
  libsimdjson-dev libsqlite3-dev sqlite3 libutf8proc-dev libstemmer-dev
  doctest-dev libfmt-dev libssl-dev libcurl4-openssl-dev libpqxx-dev libcpp-httplib-dev
  libxapian-dev postgresql
  # The web page's browser test: headless Chromium driven by Selenium.
  chromium chromium-driver python3-selenium
  # Packaging and ABI tests: cpack -G DEB runs dpkg-shlibdeps (dpkg-dev) and needs `file`; the
  # header is compiled with clang as well as gcc; man pages are checked with groff.
  dpkg-dev file clang groff-base
  # The Python bindings' tests and their offline pip install.
  python3-pytest python3-pip python3-venv
  # README.md's HTTP server example (ctest readme_server runs it as written) uses curl and jq.
  curl jq
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
