#!/bin/sh
# Starts a throw-away PostgreSQL cluster for the hub's tests and benchmarks, from Debian's
# `postgresql` package (tools/install-system-packages.sh installs it; this script installs
# nothing). The cluster lives in $PIAZZETTA_PG_DIR (default build/pg), listens on 127.0.0.1 only,
# port $PIAZZETTA_PG_PORT (default 55432), with trust authentication for local test use.
# Prints the database URL to export as PIAZZETTA_TEST_POSTGRES_URL:
#     export PIAZZETTA_TEST_POSTGRES_URL=$(sh tools/start-postgres.sh)
# `sh tools/start-postgres.sh stop` stops it.
set -e
PORT="${PIAZZETTA_PG_PORT:-55432}"
DIR="${PIAZZETTA_PG_DIR:-$(pwd)/build/pg}"
DB=piazzetta_test
USER_NAME=piazzetta
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "PostgreSQL is not installed (Debian package 'postgresql')." >&2
    exit 1
fi
# PostgreSQL refuses to run as root: run it as the 'postgres' system user then.
if [ "$(id -u)" = 0 ]; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi
mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then
    chown postgres "$DIR" && chmod 700 "$DIR"
    # The 'postgres' user must reach the folder: a checkout under a private home may not let it.
    if ! runuser -u postgres -- test -w "$DIR"; then
        DIR="${TMPDIR:-/tmp}/piazzetta-pg-$PORT"
        mkdir -p "$DIR" && chown postgres "$DIR" && chmod 700 "$DIR"
    fi
fi
if [ "$1" = "stop" ]; then
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    exit 0
fi
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" -A trust -E UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
fi
if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start \
        >/dev/null || { tail -n 30 "$DIR/server.log" >&2; exit 1; }
fi
if ! as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
fi
echo "postgresql+psycopg://$USER_NAME@127.0.0.1:$PORT/$DB"
