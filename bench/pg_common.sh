# Helpers for the chat benchmark scripts (bench/chat_run.sh, bench/pg_footprint.sh), sourced by
# both. The server's read the throwaway cluster's data directory from $SB_TEST_PG_DATA
# (tests/pg/with-postgres.sh).

# CPU time (clock ticks, user + system) the server has used so far: the postmaster and the
# processes it runs, and those it has reaped (backends of closed connections).
server_ticks() {
    local pm child total f
    pm="$(head -n 1 "$SB_TEST_PG_DATA/postmaster.pid")"
    # /proc/PID/stat after "PID (COMM) ": field 3 is index 0, so utime (14) is index 11.
    read -r -a f < <(sed 's/^.*) //' "/proc/$pm/stat")
    total=$((f[11] + f[12] + f[13] + f[14]))
    for child in $(pgrep -P "$pm"); do
        if read -r -a f < <(sed 's/^.*) //' "/proc/$child/stat" 2>/dev/null); then
            total=$((total + f[11] + f[12]))
        fi
    done
    echo "$total"
}

# Sets the CPU affinity of the running server: the postmaster and its children.
pin_server() {
    local pm child
    pm="$(head -n 1 "$SB_TEST_PG_DATA/postmaster.pid")"
    taskset -a -c -p "$1" "$pm" >/dev/null
    for child in $(pgrep -P "$pm"); do
        taskset -a -c -p "$1" "$child" >/dev/null
    done
}

# Sets host, port and db (declare them local in the caller) from $SB_TEST_PG_URL
# (postgresql://postgres@HOST:PORT/DB).
pg_url_parts() {
    local rest="${SB_TEST_PG_URL#*://}"
    rest="${rest#*@}"
    local hostport="${rest%%/*}"
    db="${rest#*/}"
    db="${db%%\?*}"
    host="${hostport%:*}"
    port="${hostport##*:}"
}

# An awk function for the scripts' summaries: median(key) of the values val[key, 1 .. cnt[key]]
# (the rounds of one measurement).
median_awk='
    function median(key,    m, i, j, v, t) {
        m = cnt[key]
        for (i = 1; i <= m; i++) v[i] = val[key, i] + 0
        for (i = 2; i <= m; i++)
            for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
    }
'
