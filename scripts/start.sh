#!/usr/bin/env bash
# Installs what is missing, builds supportbot and starts the main job: a chat in the terminal with
# a bot answering from faqs.json, stored in SQLite ($DATABASE_URL, else ./supportbot.db), with the
# offline responder. Extra arguments are passed to the CLI instead (e.g. `search --faqs faqs.json`);
# `server` starts the HTTP server instead (supportbot-server --seed-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=OFF >/dev/null
cmake --build build -j "$(nproc)"
if [ "${1:-}" = "server" ]; then
  # The HTTP server (http://127.0.0.1:8000 unless HOST/PORT say otherwise), with a demo admin and
  # a bot made from faqs.json so that the web page has something to show. Extra arguments go to
  # supportbot-server.
  shift
  exec ./build/examples/http_server/supportbot-server --seed-demo "$@"
fi
if [ $# -eq 0 ]; then
  set -- chat --faqs faqs.json
fi
exec ./build/examples/supportbot "$@"
