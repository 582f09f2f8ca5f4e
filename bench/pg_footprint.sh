#!/usr/bin/env bash
# Where the server's extra CPU on a library turn comes from (bench/README.md, "Chat turns per
# second", 2026-12-03, third session). On one core shared by the server and its client, round by
# round: pgbench with bench/pgbench_turn.sql; pq_turn (the library's own turn statements through
# bare libpq) with 0, 32, 64 and 128 KiB of client memory churn a turn; and sb_chat_bench (the
# library, one thread). Prints, per kind, the medians of turns/s, client CPU and server CPU per
# turn (microseconds). Builds in build-bench/ like chat_run.sh; about 5 minutes.
#
#   bench/pg_footprint.sh        (SB_FOOTPRINT_ROUNDS, default 5; SB_FOOTPRINT_TURNS, 20000)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${SB_BENCH_BUILD_DIR:-$root/build-bench}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON \
      -DSB_BUILD_TESTS=OFF >&2
cmake --build "$build" -j "${SB_BENCH_JOBS:-2}" --target sb_chat_bench pq_turn >&2

footprint() {
    set -euo pipefail
    local host port db
    pg_url_parts
    local turns="${SB_FOOTPRINT_TURNS:-20000}" rounds="${SB_FOOTPRINT_ROUNDS:-5}"
    local lib_turns=$((turns / 2)) warmup=100 hz round kib t0 t1 out bot
    local TIMEFORMAT='%3U %3S' user sys
    hz="$(getconf CLK_TCK)"
    # The server (and every backend it forks from now on) and the clients on CPU 0.
    pin_server 0
    # The schema and a bot, from the library.
    taskset -c 0 "$FP_BIN/sb_chat_bench" --db "$SB_TEST_PG_URL" --threads 1 --turns 500 \
        --no-ceiling --faqs "$FP_ROOT/faqs.json" --keep >/dev/null
    bot="$("$SB_TEST_PG_BIN/psql" -h "$host" -p "$port" -U postgres -d "$db" -Atc \
        "SELECT id FROM bots ORDER BY created_ms DESC LIMIT 1")"
    # kind turns/s client_us server_us, one line per run.
    for round in $(seq 1 "$rounds"); do
        echo "pg_footprint.sh: round $round of $rounds" >&2
        t0="$(server_ticks)"
        { time taskset -c 0 "$SB_TEST_PG_BIN/pgbench" -h "$host" -p "$port" -U postgres -n \
            -M prepared -f "$FP_ROOT/bench/pgbench_turn.sql" -D bot="$bot" -D run="$round$$" \
            -D session_turns=20 -D turn=0 -c 1 -j 1 -t "$turns" "$db" >"$FP_TMP/pgbench.out" \
            2>&1; } 2>"$FP_TMP/time.out"
        sleep 0.3
        t1="$(server_ticks)"
        read -r user sys <"$FP_TMP/time.out"
        awk -v u="$user" -v s="$sys" -v n="$turns" -v ticks="$((t1 - t0))" -v hz="$hz" \
            '/^tps = .*without/ { print "pgbench", $3, (u + s) * 1e6 / n, ticks * 1e6 / hz / n }' \
            "$FP_TMP/pgbench.out"
        for kib in 0 32 64 128; do
            t0="$(server_ticks)"
            out="$(taskset -c 0 "$FP_BIN/pq_turn" "host=$host port=$port user=postgres dbname=$db" \
                "$bot" "$turns" "$kib")"
            sleep 0.3
            t1="$(server_ticks)"
            awk -F'\t' -v ticks="$((t1 - t0))" -v hz="$hz" -v n="$turns" \
                '{ print "pq_turn-" $3 "KiB", $5, $7, ticks * 1e6 / hz / n }' <<<"$out"
        done
        t0="$(server_ticks)"
        out="$(taskset -c 0 "$FP_BIN/sb_chat_bench" --db "$SB_TEST_PG_URL" --threads 1 \
            --turns "$lib_turns" --warmup "$warmup" --no-ceiling --faqs "$FP_ROOT/faqs.json" \
            --tsv | grep '^RESULT')"
        sleep 0.3
        t1="$(server_ticks)"
        # Server CPU over the whole run (warm-up and a few setup statements included).
        awk -F'\t' -v ticks="$((t1 - t0))" -v hz="$hz" -v n="$((lib_turns + warmup))" \
            '{ print "library", $5, $11, ticks * 1e6 / hz / n }' <<<"$out"
    done
}

# server_ticks, pin_server, pg_url_parts and median_awk.
source "$here/pg_common.sh"

tmp="$(mktemp -d /tmp/sb-footprint.XXXXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export -f footprint server_ticks pin_server pg_url_parts
export FP_BIN="$build/bench" FP_ROOT="$root" FP_TMP="$tmp"
bash "$root/tests/pg/with-postgres.sh" bash -c 'footprint' | tee "$tmp/runs.txt" >&2

echo "| client | turns/s | client CPU us/turn | server CPU us/turn | total us/turn |"
echo "|---|---:|---:|---:|---:|"
awk "$median_awk"'
    NF == 4 {
        if (!($1 in seen)) { seen[$1] = 1; order[++kinds] = $1 }
        for (c = 1; c <= 4; c++) {
            key = $1 SUBSEP c
            val[key, ++cnt[key]] = c < 4 ? $(c + 1) : $3 + $4
        }
    }
    END {
        for (k = 1; k <= kinds; k++)
            printf "| %s | %.0f | %.1f | %.1f | %.1f |\n", order[k],
                   median(order[k] SUBSEP 1), median(order[k] SUBSEP 2),
                   median(order[k] SUBSEP 3), median(order[k] SUBSEP 4)
    }' "$tmp/runs.txt"
