#!/usr/bin/env bash
# Chat turns per second: builds sb_chat_bench (Release, in build-bench/), measures chat turns
# through the library with 1 and 2 threads on SQLite and on PostgreSQL, and each database's
# ceiling for the same writes (SQLite: a plain loop in sb_chat_bench; PostgreSQL: pgbench with
# bench/pgbench_turn.sql on the same server and database), then prints one summary table.
# PostgreSQL is measured three times: with the server and the clients free to share every core;
# with the server and the clients all on one core (the same sharing, but with no say for the
# scheduler's placement, which on a VM swings either side's figure by 2x from run to run); and
# with the server on the first half of the cores and the clients (the library, and pgbench
# alike) on the other half, as when the database has a host of its own.
# See bench/README.md, "Chat turns per second".
#
#   bench/chat_run.sh            summary table on stdout, progress on stderr
#
# Environment: SB_BENCH_BUILD_DIR (default <repo>/build-bench), SB_BENCH_JOBS (default 2),
# SB_CHAT_TURNS (timed turns per thread on SQLite, default 5000), SB_CHAT_PG_TURNS (on
# PostgreSQL, default 10000), SB_CHAT_REPEAT (timed passes on SQLite, rounds on PostgreSQL; the
# library and its ceiling take turns; the median of each, and the median of the paired ratios,
# are reported; default 5),
# SB_CHAT_PGBENCH_SECONDS (pgbench -T, default 10), SB_CHAT_SKIP_PG=1 (SQLite only).
# PostgreSQL runs in a throwaway cluster started by tests/pg/with-postgres.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${SB_BENCH_BUILD_DIR:-$root/build-bench}"
jobs="${SB_BENCH_JOBS:-2}"
turns="${SB_CHAT_TURNS:-5000}"
pg_turns="${SB_CHAT_PG_TURNS:-10000}"
repeat="${SB_CHAT_REPEAT:-5}"
pg_seconds="${SB_CHAT_PGBENCH_SECONDS:-10}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON \
      -DSB_BUILD_TESTS=OFF >&2
cmake --build "$build" -j "$jobs" --target sb_chat_bench >&2

tmp="$(mktemp -d /tmp/sb-chat-bench.XXXXXXXX)"
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.tsv"
: >"$results"

echo "chat_run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores," \
     "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" >&2

# ---- SQLite: the library and the ceiling, in one program, each on a fresh file ----
"$build/bench/sb_chat_bench" --db "sqlite://$tmp/chat.db" --threads 1,2 --turns "$turns" \
    --repeat "$repeat" --faqs "$root/faqs.json" --tsv | tee "$tmp/sqlite.out" >&2
grep -E '^(RESULT|PASS)' "$tmp/sqlite.out" >>"$results" || true

# ---- PostgreSQL: the library and pgbench with the same writes, on the same database ----
# Runs inside with-postgres.sh (SB_TEST_PG_URL = postgresql://postgres@127.0.0.1:PORT/DB).
# The library and pgbench take turns, round by round (SB_CHAT_REPEAT rounds of each, median
# reported), so that load from elsewhere on a shared machine falls on both alike.
pg_part() {
    set -euo pipefail
    local host port db
    pg_url_parts
    local conn=(-h "$host" -p "$port" -U postgres)
    local c round out tps n bot label client_cpus="" placement pi t0 t1 user sys
    local warmup=100 hz TIMEFORMAT='%3U %3S'
    hz="$(getconf CLK_TCK)"
    local cores all_cpus server_cpus
    cores="$(nproc)"
    all_cpus="0-$((cores - 1))"
    for placement in shared one split; do
        label="postgresql"
        pi=1
        if [[ "$placement" == one ]]; then
            # The server (the postmaster, the processes it started, and so every backend it
            # forks from now on) and the clients all on the first core: where the scheduler
            # puts whom no longer decides the figure (bench/README.md, "2026-12-03, second
            # session").
            pin_server 0
            client_cpus=0
            label="postgresql, one core"
            pi=3
        elif [[ "$placement" == split ]]; then
            if ((cores < 2)); then
                echo "chat_run.sh: one core: no separate-cores runs" >&2
                break
            fi
            # The server on the first half of the cores; the clients on the others.
            server_cpus="0-$((cores / 2 - 1))"
            client_cpus="$((cores / 2))-$((cores - 1))"
            pin_server "$server_cpus"
            label="postgresql, separate cores"
            pi=2
        fi
        for c in 1 2; do
            for round in $(seq 1 "$SB_CHAT_REPEAT"); do
                echo "chat_run.sh: $label, $c thread(s)/client(s), round $round of $SB_CHAT_REPEAT" >&2
                out="$SB_CHAT_TMP/pg-$placement-$c-$round.out"
                t0="$(server_ticks)"
                ${client_cpus:+taskset -c "$client_cpus"} "$SB_CHAT_BIN" --db "$SB_TEST_PG_URL" \
                    --threads "$c" --turns "$SB_CHAT_PG_TURNS" --warmup "$warmup" \
                    --faqs "$SB_CHAT_ROOT/faqs.json" --tsv >"$out"
                sleep 0.3  # the backends exit and are reaped
                t1="$(server_ticks)"
                cat "$out" >&2
                grep '^RESULT' "$out" | awk -F'\t' -v OFS='\t' -v l="$label" -v r="$round" \
                    '{ $2 = l; print; print "PASS", l, $3, $4, r, $5 }' >>"$SB_CHAT_RESULTS"
                # Client CPU of the timed turns (sb_chat_bench's figure); the server's over the
                # whole run (warm-up included: a few setup statements besides the turns).
                awk -F'\t' -v OFS='\t' -v l="$label" -v ticks="$((t1 - t0))" -v hz="$hz" \
                    -v turns="$((c * (SB_CHAT_PG_TURNS + warmup)))" \
                    '$1 == "RESULT" { print "CPU", l, $3, $4, $11, ticks * 1e6 / hz / turns }' \
                    "$out" >>"$SB_CHAT_RESULTS"

                # The schema and a bot (the sessions' foreign key) are the library's, from above.
                bot="$("$SB_TEST_PG_BIN/psql" "${conn[@]}" -d "$db" -Atc \
                    "SELECT id FROM bots ORDER BY created_ms DESC LIMIT 1")"
                out="$SB_CHAT_TMP/pgbench-$placement-$c-$round.out"
                t0="$(server_ticks)"
                {
                    time ${client_cpus:+taskset -c "$client_cpus"} "$SB_TEST_PG_BIN/pgbench" \
                        "${conn[@]}" -n -M prepared -f "$SB_CHAT_ROOT/bench/pgbench_turn.sql" \
                        -D bot="$bot" -D run="$c$round$$$pi" -D session_turns=20 -D turn=0 \
                        -c "$c" -j "$c" -T "$SB_CHAT_PGBENCH_SECONDS" "$db" >"$out" 2>&1
                } 2>"$SB_CHAT_TMP/time.out"
                sleep 0.3
                t1="$(server_ticks)"
                cat "$out" >&2
                tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")"
                n="$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")"
                if [[ -z "$tps" ]]; then
                    echo "chat_run.sh: pgbench gave no tps" >&2
                    return 1
                fi
                printf 'RESULT\t%s\tceiling\t%s\t%s\t%s\t%s\t-1\n' "$label" "$c" "$tps" "$n" \
                    "$SB_CHAT_PGBENCH_SECONDS" >>"$SB_CHAT_RESULTS"
                printf 'PASS\t%s\tceiling\t%s\t%s\t%s\n' "$label" "$c" "$round" "$tps" \
                    >>"$SB_CHAT_RESULTS"
                read -r user sys <"$SB_CHAT_TMP/time.out"
                awk -v OFS='\t' -v l="$label" -v c="$c" -v u="$user" -v s="$sys" -v n="$n" \
                    -v ticks="$((t1 - t0))" -v hz="$hz" \
                    'BEGIN { print "CPU", l, "ceiling", c, (u + s) * 1e6 / n, ticks * 1e6 / hz / n }' \
                    >>"$SB_CHAT_RESULTS"
            done
        done
    done
    [[ -n "$client_cpus" ]] && pin_server "$all_cpus"
    return 0
}

# server_ticks, pin_server, pg_url_parts and median_awk.
source "$here/pg_common.sh"

if [[ "${SB_CHAT_SKIP_PG:-0}" != 1 ]]; then
    export -f pg_part pin_server server_ticks pg_url_parts
    export SB_CHAT_BIN="$build/bench/sb_chat_bench" SB_CHAT_ROOT="$root" SB_CHAT_TMP="$tmp" \
           SB_CHAT_RESULTS="$results" SB_CHAT_PG_TURNS="$pg_turns" SB_CHAT_REPEAT="$repeat" \
           SB_CHAT_PGBENCH_SECONDS="$pg_seconds"
    bash "$root/tests/pg/with-postgres.sh" bash -c 'pg_part'
fi

# ---- Summary ----
# RESULT <db> <kind> <threads> <turns/s> <turns> <seconds> <answered>; several rows of one
# (db, kind, threads) are rounds: the median is reported. PASS <db> <kind> <threads> <round>
# <turns/s>: the library's and the ceiling's round of one number ran one after the other, so
# their ratio is a pair measured under much the same load from elsewhere; the median of the
# pairs, and their range, are the last columns.
awk -F'\t' "$median_awk"'
    $1 == "RESULT" {
        row = $2 SUBSEP $4
        if (!(row in seen)) { seen[row] = 1; order[++n] = row }
        key = $3 SUBSEP row
        val[key, ++cnt[key]] = $5
    }
    $1 == "PASS" { pass[$3, $2, $4, $5] = $6; if ($5 > rounds[$2, $4]) rounds[$2, $4] = $5 }
    END {
        print "| database | threads | supportbot turns/s | ceiling turns/s | ratio | paired ratio: median | range |"
        print "|---|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(order[i], k, SUBSEP)
            sb = ("supportbot" SUBSEP order[i]) in cnt ? median("supportbot" SUBSEP order[i]) : ""
            ce = ("ceiling" SUBSEP order[i]) in cnt ? median("ceiling" SUBSEP order[i]) : ""
            ratio = (sb != "" && ce > 0) ? sprintf("%.2f", sb / ce) : "-"
            pkey = "pairs" SUBSEP order[i]
            lo = ""; hi = ""
            for (r = 1; r <= rounds[order[i]]; r++) {
                a = pass["supportbot", order[i], r]; b = pass["ceiling", order[i], r]
                if (a == "" || b + 0 <= 0) continue
                x = a / b
                val[pkey, ++cnt[pkey]] = x
                if (lo == "" || x < lo) lo = x
                if (hi == "" || x > hi) hi = x
            }
            paired = pkey in cnt ? sprintf("%.2f", median(pkey)) : "-"
            range = lo == "" ? "-" : sprintf("%.2f-%.2f", lo, hi)
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", k[1], k[2],
                   (sb == "" ? "-" : sprintf("%.0f", sb)), (ce == "" ? "-" : sprintf("%.0f", ce)),
                   ratio, paired, range
        }
    }' "$results"

# CPU per turn on PostgreSQL, medians of the rounds: the client's (the library's timed turns as
# sb_chat_bench measures them; pgbench's whole run) and the server's (all its processes).
if grep -q '^CPU' "$results"; then
    echo
    awk -F'\t' "$median_awk"'
        $1 == "CPU" {
            row = $2 SUBSEP $4
            if (!(row in seen)) { seen[row] = 1; order[++n] = row }
            key = $3 SUBSEP row SUBSEP "client"; val[key, ++cnt[key]] = $5
            key = $3 SUBSEP row SUBSEP "server"; val[key, ++cnt[key]] = $6
        }
        END {
            print "| database | threads | supportbot CPU us/turn: client | server | ceiling: client | server |"
            print "|---|---:|---:|---:|---:|---:|"
            for (i = 1; i <= n; i++) {
                split(order[i], k, SUBSEP)
                printf "| %s | %s | %.0f | %.0f | %.0f | %.0f |\n", k[1], k[2],
                       median("supportbot" SUBSEP order[i] SUBSEP "client"),
                       median("supportbot" SUBSEP order[i] SUBSEP "server"),
                       median("ceiling" SUBSEP order[i] SUBSEP "client"),
                       median("ceiling" SUBSEP order[i] SUBSEP "server")
            }
        }' "$results"
fi
