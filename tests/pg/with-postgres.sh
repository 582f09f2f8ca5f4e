#!/usr/bin/env bash
# Runs COMMAND... against a throwaway PostgreSQL cluster, then removes the cluster.
#
#   bash tests/pg/with-postgres.sh COMMAND [ARGS...]
#
# Finds Debian's PostgreSQL server binaries (/usr/lib/postgresql/<newest>/bin; installs the
# `postgresql` package when they are missing and we are root), initialises a cluster in a fresh
# temporary directory (as the `postgres` user when run as root), starts it on a free loopback TCP
# port with trust authentication and its unix socket in the temporary directory, creates a
# database, and runs COMMAND with:
#   SB_TEST_PG_URL      postgresql://postgres@127.0.0.1:PORT/DBNAME
#   SB_TEST_PG_BIN      the server's bin directory
#   SB_TEST_PG_DATA     the cluster's data directory
#   SB_TEST_PG_RESTART  a shell command line that restarts the server (same port), for tests;
#   SB_TEST_PG_STOP, SB_TEST_PG_START  likewise, stop and start it
# The server is always stopped and the directory removed on exit; the exit status is COMMAND's.
# Needs no stdin; several runs at once each get their own directory and port.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

log() { echo "with-postgres: $*" >&2; }

find_bin() {
  local d best=""
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then best="$d"; fi
  done
  printf '%s' "$best"
}

PG_BIN="$(find_bin)"
if [ -z "$PG_BIN" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin;" \
        "install the 'postgresql' package (as root: apt-get install postgresql)"
    exit 1
  fi
  log "installing the postgresql package"
  apt-get update -q </dev/null >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql </dev/null >&2
  PG_BIN="$(find_bin)"
  if [ -z "$PG_BIN" ]; then
    log "PostgreSQL server binaries still not found after installing 'postgresql'"
    exit 1
  fi
fi

# Commands that touch the cluster run as the postgres user when we are root (the server refuses
# to run as root), else as ourselves.
AS_PG=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id -u postgres >/dev/null 2>&1; then
    log "running as root but there is no 'postgres' system user"
    exit 1
  fi
  if command -v runuser >/dev/null 2>&1; then
    AS_PG=(runuser -u postgres --)
  else
    AS_PG=(su postgres -s /bin/sh -c '"$0" "$@"')
  fi
fi

# /tmp rather than $TMPDIR: the postgres user must reach it, and unix socket paths are short.
TMP_DIR="$(mktemp -d /tmp/sb-pg.XXXXXXXX)"
DATA_DIR="$TMP_DIR/data"
LOG_FILE="$TMP_DIR/server.log"
STARTED=0

cleanup() {
  local status=$?
  set +e
  if [ "$STARTED" -eq 1 ]; then
    (cd "$TMP_DIR" && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m immediate -w -t 30 stop \
      </dev/null >/dev/null 2>&1)
    # Whatever still runs from this cluster (e.g. a restart that lost the race) goes too.
    if [ -f "$DATA_DIR/postmaster.pid" ]; then
      pid="$(head -n 1 "$DATA_DIR/postmaster.pid" 2>/dev/null)"
      if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; fi
    fi
  fi
  rm -rf "$TMP_DIR"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" -eq 0 ]; then chown postgres: "$TMP_DIR"; fi
chmod 700 "$TMP_DIR"

if ! (cd "$TMP_DIR" && "${AS_PG[@]}" "$PG_BIN/initdb" -D "$DATA_DIR" -U postgres -A trust \
        -E UTF8 --locale=C -N </dev/null >"$TMP_DIR/initdb.log" 2>&1); then
  log "initdb failed:"
  cat "$TMP_DIR/initdb.log" >&2
  exit 1
fi
# Trust on loopback only (initdb -A trust wrote trust lines for local, 127.0.0.1 and ::1).
cat >"$DATA_DIR/pg_hba.conf" <<'HBA'
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
host    all   all   ::1/128       trust
HBA

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
  else
    local p
    while :; do
      p=$((20000 + RANDOM % 30000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
  fi
}

# Server options: loopback TCP on PORT, unix socket in our directory, no durability (throwaway).
server_opts() {
  printf '%s' "-c listen_addresses=127.0.0.1 -p $1 -k $TMP_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
}

# Another process may take the port between our probe and the server's bind: retry a few times.
PORT=""
for attempt in 1 2 3 4 5; do
  port="$(free_port)"
  if (cd "$TMP_DIR" && "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 \
        -o "$(server_opts "$port")" start </dev/null >/dev/null 2>&1); then
    PORT="$port"
    STARTED=1
    break
  fi
  STARTED=1  # a half-started server would still be stopped by cleanup
  log "server did not start on port $port (attempt $attempt)"
done
if [ -z "$PORT" ]; then
  log "could not start PostgreSQL; server log:"
  cat "$LOG_FILE" >&2 || true
  exit 1
fi

for _ in $(seq 1 60); do
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres </dev/null; then break; fi
  sleep 0.5
done
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U postgres </dev/null; then
  log "server not ready on port $PORT; server log:"
  cat "$LOG_FILE" >&2 || true
  exit 1
fi

DB_NAME="sbtest"
if ! "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB_NAME" </dev/null; then
  log "createdb failed"
  exit 1
fi

# Shell command lines running pg_ctl ACTION on this cluster as the right user (for tests).
pg_ctl_cmd() {
  local cmd word
  cmd="cd $(printf '%q' "$TMP_DIR") &&"
  local args=("${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60)
  case "$1" in
    start) args+=(-o "$(server_opts "$PORT")" start) ;;
    *) args+=(-m fast "$1") ;;  # restart reuses the options the server was started with
  esac
  for word in "${args[@]}"; do
    cmd+=" $(printf '%q' "$word")"
  done
  printf '%s </dev/null >/dev/null' "$cmd"
}

export SB_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PORT/$DB_NAME"
export SB_TEST_PG_BIN="$PG_BIN"
export SB_TEST_PG_DATA="$DATA_DIR"
export SB_TEST_PG_RESTART="$(pg_ctl_cmd restart)"
export SB_TEST_PG_STOP="$(pg_ctl_cmd stop)"
export SB_TEST_PG_START="$(pg_ctl_cmd start)"
log "$("$PG_BIN/postgres" --version) at $SB_TEST_PG_URL"

set +e
"$@"
status=$?
set -e
exit "$status"
