#!/usr/bin/env bash
# Installs what is missing, builds supportbot and starts the main job: the CLI answering questions
# from faqs.json. Extra arguments are passed to the CLI (default: an interactive `search`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)"
if [ $# -eq 0 ]; then
  set -- search --faqs faqs.json
fi
exec ./build/examples/supportbot "$@"
