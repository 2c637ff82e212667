# Sourced by scripts/test.sh. Sets up what the integration tests run against:
#   - Python venvs in .venvs/, pinned by tests/python/*.txt: real Singer targets, Meltano,
#     maturin (which builds the Python wheel of the tap) and Selenium (which drives Debian's
#     headless Chromium for the inspector's browser tests);
#   - a throwaway PostgreSQL cluster on 127.0.0.1 (a free port), stopped on exit.
# It exports TAP_WEBHOOKS_TEST_VENVS and PGHOST/PGPORT/PGUSER for the tests.
# Needs python3 with venv, and the PostgreSQL server (Debian: apt-get install postgresql).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$ROOT/.venvs"

setup_venv() {
    local name="$1" req="$ROOT/tests/python/$1.txt" dir="$VENVS/$1"
    if ! cmp -s "$req" "$dir/.requirements" 2>/dev/null; then
        echo "setting up $dir" >&2
        rm -rf "$dir"
        python3 -m venv "$dir" || { echo "python3 -m venv failed: install python3 with venv" >&2; return 1; }
        "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" || return 1
        cp "$req" "$dir/.requirements"
    fi
}

for req in "$ROOT"/tests/python/*.txt; do
    setup_venv "$(basename "$req" .txt)" || exit 1
done
export TAP_WEBHOOKS_TEST_VENVS="$VENVS"

PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL server not found: install it (Debian: apt-get install postgresql)" >&2
    exit 1
fi
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
PG_DIR="$(mktemp -d /tmp/tap-webhooks-pg.XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null || exit 1
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/data/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=200" start >/dev/null || {
    cat "$PG_DIR/data/server.log" >&2
    exit 1
}
stop_pg() {
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
}
trap stop_pg EXIT
export PGHOST=127.0.0.1 PGPORT="$PG_PORT" PGUSER=postgres
