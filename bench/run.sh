#!/usr/bin/env bash
# Builds sb_bench (Release, in build-bench/), generates the 100,000-FAQ corpus into bench/data/ if
# it is missing or older than the generator, and benchmarks supportbot, SQLite FTS5 and Xapian on
# the labelled sets (clinc150, banking77) and on the generated set.
#
#   bench/run.sh                 table on stdout, progress on stderr
#   bench/run.sh --json          one JSON object per engine and corpus instead
#   bench/run.sh --repeat 3      any sb_bench option is passed through
#
# Environment: SB_BENCH_BUILD_DIR (default <repo>/build-bench), SB_DATA_DIR (default
# <repo>/../shared/data), SB_BENCH_JOBS (default 2), SB_BENCH_ENTRIES (default 100000).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${SB_BENCH_BUILD_DIR:-$root/build-bench}"
data="${SB_DATA_DIR:-$root/../shared/data}"
jobs="${SB_BENCH_JOBS:-2}"
entries="${SB_BENCH_ENTRIES:-100000}"
gen="$here/data/gen$((entries / 1000))k"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON \
      -DSB_BUILD_TESTS=OFF >&2
cmake --build "$build" -j "$jobs" --target sb_bench >&2

if [[ ! -s "$gen/faqs.json" || ! -s "$gen/dev.jsonl" || "$here/gen_faqs.py" -nt "$gen/faqs.json" ]]
then
    python3 "$here/gen_faqs.py" --entries "$entries" --out "$gen" >&2
fi

corpora=()
for set in clinc150 banking77; do
    if [[ -f "$data/$set/faqs.json" && -f "$data/$set/dev.jsonl" ]]; then
        corpora+=("$data/$set")
    else
        echo "run.sh: $data/$set not found; skipped" >&2
    fi
done
corpora+=("$gen")

echo "run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" >&2
exec "$build/bench/sb_bench" "$@" "${corpora[@]}"
