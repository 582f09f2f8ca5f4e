#!/usr/bin/env bash
# Installs what is missing, builds supportbot and starts the main job: a chat in the terminal with
# a bot answering from faqs.json, stored in SQLite ($DATABASE_URL, else ./supportbot.db), with the
# offline responder. Extra arguments are passed to the CLI instead (e.g. `search --faqs faqs.json`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)"
if [ $# -eq 0 ]; then
  set -- chat --faqs faqs.json
fi
exec ./build/examples/supportbot "$@"
