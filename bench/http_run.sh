#!/usr/bin/env bash
# HTTP server benchmark (issue 20, "Benchmark"): builds supportbot-server and sb_chat_bench
# (Release, in build-bench/), starts the server on loopback with the offline responder on a
# temporary SQLite database, sets up an admin, a bot made from faqs.json, and a user, and measures
# with wrk (requests/s, p50 and p99 latency):
#   - POST /api/v1/chat/{bot_id}   (JSON body, bearer token; bench/http_chat.lua)
#   - GET  /health
# at 1, 4, 16 and 64 connections (wrk threads = min(2, connections)). In the same run, as
# ceilings: nginx (Debian's, a temporary configuration on a loopback port, in the foreground)
# serving a small static file at the same connection counts, and the library's own chat turns/s
# (sb_chat_bench, the library only) on the same kind of database, with as many threads as the
# server can have requests in hand at once: min(connections, WORKER_THREADS), one pass in each
# round right after the server's measurements (so under much the same load from elsewhere). Then the same chat
# measurement on PostgreSQL (a throwaway cluster from tests/pg/with-postgres.sh), with its library
# figures. Prints one summary table. See bench/README.md, "HTTP server".
#
#   bench/http_run.sh            summary table on stdout, progress on stderr
#
# Environment: SB_BENCH_BUILD_DIR (default <repo>/build-bench), SB_BENCH_JOBS (default 2),
# SB_HTTP_CONNS (default "1 4 16 64"), SB_HTTP_SECONDS (wrk -d per measurement, default 5),
# SB_HTTP_ROUNDS (rounds; in each, every measurement once, chat, /health and nginx one after the
# other; medians reported; default 3), SB_HTTP_WORKERS (the server's WORKER_THREADS, default 8,
# the server's default), SB_HTTP_LIB_TURNS (sb_chat_bench --turns per thread, default 1000),
# SB_HTTP_ACCESS_LOG (1 default: the server writes its access log, to a file, as nginx does),
# SB_HTTP_SKIP_PG=1 (SQLite only).
# Everything listens on 127.0.0.1 and is stopped and removed at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${SB_BENCH_BUILD_DIR:-$root/build-bench}"
jobs="${SB_BENCH_JOBS:-2}"
conns="${SB_HTTP_CONNS:-1 4 16 64}"
seconds="${SB_HTTP_SECONDS:-5}"
rounds="${SB_HTTP_ROUNDS:-3}"
workers="${SB_HTTP_WORKERS:-8}"
lib_turns="${SB_HTTP_LIB_TURNS:-1000}"
access_log="${SB_HTTP_ACCESS_LOG:-1}"
session_turns=20

# median_awk (and the PostgreSQL helpers, unused here).
source "$here/pg_common.sh"

log() { echo "http_run.sh: $*" >&2; }
hz="$(getconf CLK_TCK)"

# ---- Pieces used by both the SQLite part and the PostgreSQL part (run inside with-postgres.sh)

# Library thread counts: min(c, workers) for each connection count, as "1,4,8".
lib_threads() {
    local c out=()
    for c in $conns; do out+=("$((c < workers ? c : workers))"); done
    printf '%s\n' "${out[@]}" | sort -n -u | paste -s -d, -
}

# start_server DATABASE_URL NAME: sets server_pid and server_url.
start_server() {
    local url="$1" name="$2" i
    local out="$tmp/$name.out"
    # cwd: an empty directory (no .env from the repository); only the settings below.
    mkdir -p "$tmp/cwd"
    (cd "$tmp/cwd" && exec env -u GEMINI_API_KEY -u LLM_PROVIDER -u LLM_MODEL -u LLM_BASE_URL \
        -u OPENAI_API_KEY -u LLM_API_KEY \
        DATABASE_URL="$url" HOST=127.0.0.1 PORT=0 SECRET_KEY="$secret" LLM_PROVIDER=offline \
        WORKER_THREADS="$workers" ACCESS_LOG="$access_log" \
        "$build/examples/http_server/supportbot-server" >"$out" 2>"$tmp/$name.err") &
    server_pid=$!
    server_url=""
    for i in $(seq 1 100); do
        server_url="$(grep -o -m1 'http://127\.0\.0\.1:[0-9]*' "$out" 2>/dev/null || true)"
        [[ -n "$server_url" ]] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [[ -z "$server_url" ]]; then
        log "the server did not start:"
        cat "$out" "$tmp/$name.err" >&2 || true
        return 1
    fi
    log "server ($name) at $server_url, pid $server_pid, $workers worker threads"
}

stop_server() {
    local i
    [[ -n "${server_pid:-}" ]] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# setup_bot: an admin, a bot from faqs.json, a user of the bot, logged in. Sets bot_id, token.
setup_bot() {
    local u="$server_url/api/v1" pw="bench-Passw0rd-1" admin
    local c=(curl -sS --fail-with-body --max-time 60)
    "${c[@]}" -H 'Content-Type: application/json' \
        -d "{\"email\":\"admin@bench.test\",\"password\":\"$pw\"}" "$u/auth/admin/register" >/dev/null
    admin="$("${c[@]}" --data-urlencode username=admin@bench.test --data-urlencode "password=$pw" \
        "$u/auth/admin/login" | json_field access_token)"
    bot_id="$("${c[@]}" -H "Authorization: Bearer $admin" -F name=bench \
        -F "file=@$root/faqs.json" "$u/bots/" | json_field id)"
    "${c[@]}" -H 'Content-Type: application/json' \
        -d "{\"email\":\"user@bench.test\",\"password\":\"$pw\"}" "$u/auth/$bot_id/register" >/dev/null
    token="$("${c[@]}" --data-urlencode username=user@bench.test --data-urlencode "password=$pw" \
        "$u/auth/$bot_id/login" | json_field access_token)"
    # One turn by hand: the route answers, and from the offline responder.
    "${c[@]}" -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
        -d '{"message":"where is my package"}' "$u/chat/$bot_id" | grep -q '"responder"'
    log "bot $bot_id, user logged in"
}

# CPU time (clock ticks, user + system, all threads) used so far by the process PID and its
# children that are running (nginx's master and workers).
proc_ticks() {
    local total=0 p f
    for p in "$1" $(pgrep -P "$1" || true); do
        # /proc/PID/stat after "PID (COMM) ": field 3 is index 0, so utime (14) is index 11.
        if read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null); then
            total=$((total + f[11] + f[12]))
        fi
    done
    echo "$total"
}

# wrk_run KIND DB CONNS ROUND PID URL [SCRIPT ARGS...]: one wrk measurement of the server PID;
# appends WRK <kind> <db> <conns> <round> <req/s> <p50 ms> <p99 ms> <errors> <server CPU us per
# request> <wrk CPU us per request> to $results.
wrk_run() {
    local kind="$1" db="$2" c="$3" round="$4" pid="$5" url="$6"
    shift 6
    local t=$((c < 2 ? c : 2)) out="$tmp/wrk-$kind-$db-$c-$round.out" script=() t0 t1 user sys
    local TIMEFORMAT='%3U %3S'
    if (($# > 0)); then script=(-s "$here/http_chat.lua"); fi
    log "$kind ($db), $c connection(s), round $round of $rounds"
    t0="$(proc_ticks "$pid")"
    { time timeout $((seconds + 60)) wrk -t "$t" -c "$c" -d "${seconds}s" --timeout 10s --latency \
        "${script[@]}" "$url" ${1:+--} "$@" >"$out" 2>&1; } 2>"$tmp/time.out" || {
        log "wrk failed:"
        cat "$out" >&2
        return 1
    }
    t1="$(proc_ticks "$pid")"
    read -r user sys <"$tmp/time.out"
    awk -v OFS='\t' -v kind="$kind" -v db="$db" -v c="$c" -v r="$round" -v hz="$hz" \
        -v ticks="$((t1 - t0))" -v wrk_cpu="$user $sys" '
        function ms(s) {
            if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1000
            if (s ~ /ms$/) return substr(s, 1, length(s) - 2) + 0
            if (s ~ /m$/) return substr(s, 1, length(s) - 1) * 60000
            if (s ~ /s$/) return substr(s, 1, length(s) - 1) * 1000
            return s + 0
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 }
        / requests in / { n = $1 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        END {
            split(wrk_cpu, w, " ")
            print "WRK", kind, db, c, r, rps + 0, p50 + 0, p99 + 0, err + 0,
                  (n > 0 ? ticks * 1e6 / hz / n : -1), (n > 0 ? (w[1] + w[2]) * 1e6 / n : -1)
        }
    ' "$out" | tee -a "$results" | cut -f 6- |
        sed 's/^/    req\/s, p50 ms, p99 ms, errors, CPU us\/request: server, wrk: /' >&2
}

# chat_rounds DB: the chat route at every connection count (the server already set up).
chat_once() {
    local db="$1" c="$2" round="$3"
    local slots=$(((c + 1) / 2))  # connections per wrk thread
    ((c == 1)) && slots=1
    wrk_run chat "$db" "$c" "$round" "$server_pid" "$server_url" "$bot_id" "$token" "$tmp/questions.txt" \
        "$db$round$c$$" "$slots" "$session_turns"
}

# library DB_URL DB ROUND: one pass of sb_chat_bench, the library only, at the server's thread
# counts; appends LIB <db> <threads> <turns/s> <CPU us per turn> rows to $results.
library() {
    local url="$1" db="$2" round="$3"
    log "the library ($db), threads $(lib_threads), $lib_turns turns per thread, round $round of $rounds"
    timeout 1800 "$build/bench/sb_chat_bench" --db "$url" --threads "$(lib_threads)" \
        --turns "$lib_turns" --repeat 1 --session-turns "$session_turns" \
        --faqs "$root/faqs.json" --no-ceiling --tsv >"$tmp/lib-$db-$round.out" \
        2>"$tmp/lib-$db-$round.err" || {
        cat "$tmp/lib-$db-$round.err" >&2
        return 1
    }
    # RESULT <db> <kind> <threads> <turns/s> <turns> <seconds> <answered> <p50> <p99> <CPU us>
    awk -F'\t' -v OFS='\t' -v db="$db" \
        '$1 == "RESULT" && $3 == "supportbot" { print "LIB", db, $4, $5, $11 }' \
        "$tmp/lib-$db-$round.out" | tee -a "$results" >&2
}

pg_part() {
    start_server "$SB_TEST_PG_URL" server-pg
    setup_bot
    local round c
    for round in $(seq 1 "$rounds"); do
        for c in $conns; do chat_once postgresql "$c" "$round"; done
        library "$SB_TEST_PG_URL" postgresql "$round"
    done
    stop_server
}

if [[ "${1:-}" == --pg-part ]]; then
    # Inside with-postgres.sh; tmp, results and secret come from the parent.
    trap 'stop_server' EXIT
    pg_part
    exit 0
fi

# ---- Main ----------------------------------------------------------------------------------

for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || {
        log "needs $tool (Debian: wrk, nginx-light, curl)"
        exit 2
    }
done
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

launcher=()
if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_BENCH=ON \
      -DSB_BUILD_TESTS=OFF "${launcher[@]}" >&2
cmake --build "$build" -j "$jobs" --target supportbot_server sb_chat_bench >&2

tmp="$(mktemp -d /tmp/sb-http-bench.XXXXXXXX)"
server_pid=""
nginx_pid=""
cleanup() {
    stop_server
    if [[ -n "$nginx_pid" ]]; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
results="$tmp/results.tsv"
: >"$results"
secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# sb_chat_bench's questions, one a line.
sed -n '/^const std::vector<std::string> kQuestions = {/,/^};/p' "$here/chat_bench.cpp" |
    sed -n 's/^ *"\(.*\)",$/\1/p' >"$tmp/questions.txt"
[[ -s "$tmp/questions.txt" ]] || { log "no questions found in chat_bench.cpp"; exit 1; }

commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $commit, load average $load_start"

# nginx: a small static file, the same size as a /health reply; workers = cores; access log to a
# file, as the server's goes to a file here.
mkdir -p "$tmp/nginx/html" "$tmp/nginx/logs"
printf '{"status":"ok","database":"ok","version":"0.0.0"}' >"$tmp/nginx/html/health.json"
# Run as root, nginx's workers run as nobody: they may pass through $tmp and read html/ only.
chmod 711 "$tmp" "$tmp/nginx"
chmod 755 "$tmp/nginx/html"
chmod 644 "$tmp/nginx/html/health.json"
nginx_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
worker_processes $(nproc);
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log $tmp/nginx/logs/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000;
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/nginx/html;
        location / { default_type application/json; }
    }
}
EOF
"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
nginx_pid=$!
for i in $(seq 1 50); do
    curl -s -o /dev/null "http://127.0.0.1:$nginx_port/health.json" && break
    sleep 0.1
done
curl -sS --fail -o /dev/null "http://127.0.0.1:$nginx_port/health.json"
log "nginx at http://127.0.0.1:$nginx_port, pid $nginx_pid"

# ---- SQLite: the server (chat, /health) and nginx, round by round; then the library ----
start_server "sqlite://$tmp/server.db" server-sqlite
setup_bot
for round in $(seq 1 "$rounds"); do
    for c in $conns; do
        chat_once sqlite "$c" "$round"
        wrk_run health sqlite "$c" "$round" "$server_pid" "$server_url/health"
        wrk_run nginx - "$c" "$round" "$nginx_pid" "http://127.0.0.1:$nginx_port/health.json"
    done
    library "sqlite://$tmp/library-$round.db" sqlite "$round"
done
stop_server
kill -QUIT "$nginx_pid" 2>/dev/null || true
wait "$nginx_pid" 2>/dev/null || true
nginx_pid=""

# ---- PostgreSQL: the same chat measurement and the library, on a throwaway cluster ----
if [[ "${SB_HTTP_SKIP_PG:-0}" != 1 ]]; then
    export tmp results secret build root here conns seconds rounds workers lib_turns access_log
    bash "$root/tests/pg/with-postgres.sh" bash "$here/http_run.sh" --pg-part
fi

load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- Summary ----
echo "http_run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $commit," \
     "WORKER_THREADS=$workers, ACCESS_LOG=$access_log, wrk ${seconds}s x $rounds rounds (medians)," \
     "load average at start $load_start, at end $load_end"
echo
awk -F'\t' -v workers="$workers" "$median_awk"'
    function add(key, x) { val[key, ++cnt[key]] = x }
    $1 == "WRK" {
        key = $2 SUBSEP $3 SUBSEP $4
        add(key SUBSEP "rps", $6); add(key SUBSEP "p50", $7); add(key SUBSEP "p99", $8)
        add(key SUBSEP "cpu", $10); add(key SUBSEP "wrk", $11)
        err[key] += $9
        if ($2 == "chat" && !(($3 SUBSEP $4) in seen)) { seen[$3, $4] = 1; order[++n] = $3 SUBSEP $4 }
        if ($2 == "health" && !($4 in hseen)) { hseen[$4] = 1; horder[++hn] = $4 }
    }
    $1 == "LIB" { add("lib" SUBSEP $2 SUBSEP $3, $4); add("libcpu" SUBSEP $2 SUBSEP $3, $5) }
    function m(k) { return (k in cnt) ? median(k) : -1 }
    function f(x, fmt) { return x < 0 ? "-" : sprintf(fmt, x) }
    END {
        print "POST /api/v1/chat/{bot_id} (offline responder) vs the library (sb_chat_bench, threads = min(conns, WORKER_THREADS)); CPU in us per request or turn"
        print ""
        print "| database | conns | chat req/s | p50 ms | p99 ms | errors | library turns/s (threads) | chat / library | server CPU | library CPU | wrk CPU |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) {
            split(order[i], k, SUBSEP); db = k[1]; c = k[2]
            ck = "chat" SUBSEP db SUBSEP c
            th = c < workers ? c : workers
            l = m("lib" SUBSEP db SUBSEP th)
            lc = m("libcpu" SUBSEP db SUBSEP th)
            cr = m(ck SUBSEP "rps")
            printf "| %s | %s | %s | %s | %s | %d | %s (%d) | %s | %s | %s | %s |\n",
                db, c, f(cr, "%.0f"), f(m(ck SUBSEP "p50"), "%.2f"), f(m(ck SUBSEP "p99"), "%.2f"),
                err[ck], f(l, "%.0f"), th, (cr >= 0 && l > 0) ? sprintf("%.2f", cr / l) : "-",
                f(m(ck SUBSEP "cpu"), "%.0f"), f(lc, "%.0f"), f(m(ck SUBSEP "wrk"), "%.0f")
        }
        print ""
        print "GET /health (SQLite) vs nginx serving a static file of the same size; CPU in us per request"
        print ""
        print "| conns | /health req/s | p50 ms | p99 ms | errors | nginx req/s | p50 ms | p99 ms | /health / nginx | server CPU | nginx CPU | wrk CPU: /health | nginx |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= hn; i++) {
            c = horder[i]
            hk = "health" SUBSEP "sqlite" SUBSEP c; nk = "nginx" SUBSEP "-" SUBSEP c
            hr = m(hk SUBSEP "rps"); nr = m(nk SUBSEP "rps")
            printf "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                c, f(hr, "%.0f"), f(m(hk SUBSEP "p50"), "%.2f"), f(m(hk SUBSEP "p99"), "%.2f"),
                err[hk] + err[nk], f(nr, "%.0f"), f(m(nk SUBSEP "p50"), "%.2f"),
                f(m(nk SUBSEP "p99"), "%.2f"), (hr >= 0 && nr > 0) ? sprintf("%.2f", hr / nr) : "-",
                f(m(hk SUBSEP "cpu"), "%.0f"), f(m(nk SUBSEP "cpu"), "%.0f"),
                f(m(hk SUBSEP "wrk"), "%.0f"), f(m(nk SUBSEP "wrk"), "%.1f")
        }
        print ""
        print "Targets: chat / library >= 0.70; /health / nginx >= 0.5."
    }' "$results"
