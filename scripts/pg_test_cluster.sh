#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL cluster for tests and benchmarks, and print its URL.
#
#   scripts/pg_test_cluster.sh          start if needed; print the SQLAlchemy URL on stdout
#   scripts/pg_test_cluster.sh stop     stop it and delete its files
#
# Uses the OS package binaries (/usr/lib/postgresql/<major>/bin, or PG_BIN); the cluster lives
# in HADIR_PG_DIR (default $TMPDIR/hadir-pg-test) and listens on 127.0.0.1:HADIR_PG_PORT
# (default 54329), trust authentication, loopback only. PostgreSQL refuses to run as root, so
# as root the cluster belongs to the `postgres` user (HADIR_PG_USER). Idempotent: a second
# call finds the running cluster and only prints the URL again.
set -euo pipefail

PORT="${HADIR_PG_PORT:-54329}"
DIR="${HADIR_PG_DIR:-${TMPDIR:-/tmp}/hadir-pg-test}"
DB="${HADIR_PG_DB:-hadir}"
RUN_USER="${HADIR_PG_USER:-postgres}"

log() { echo "pg_test_cluster: $*" >&2; }

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    local candidate
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then echo "$candidate"; return; fi
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    log "no PostgreSQL binaries found (apt-get install -y postgresql, or set PG_BIN)"
    exit 1
}

BIN="$(find_bin)"

# Run a PostgreSQL binary as the cluster owner (ourselves unless we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$RUN_USER" -- "$@"
        else
            su -s /bin/sh "$RUN_USER" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

DATA="$DIR/data"
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/${DB}"

if [ "${1:-start}" = "stop" ]; then
    if [ -f "$DATA/PG_VERSION" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    log "stopped and removed $DIR"
    exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then chown "$RUN_USER" "$DIR"; fi
    log "initdb in $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log" 2>&1 || {
        # Older images lack the C.UTF-8 locale.
        as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C \
            >"$DIR/initdb.log" 2>&1
    }
fi

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting on 127.0.0.1:$PORT"
    # The socket goes in our own folder: /var/run/postgresql may not exist or be writable.
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=200" >/dev/null
fi

for _ in $(seq 1 50); do
    if as_owner "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then break; fi
    sleep 0.2
done

if ! as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi

echo "$URL"
