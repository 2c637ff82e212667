# Sourced by scripts/test.sh. Sets up what the integration tests run against:
#   - Python venvs in .venvs/, pinned by tests/python/*.txt: real Singer targets, Meltano, and
#     maturin with zig and auditwheel (which build and check the Python wheel of the tap);
#   - the release wheel, by scripts/build-wheel.sh (reused while no source changed);
#   - a throwaway PostgreSQL cluster on 127.0.0.1 (a free port), stopped on exit.
# It exports TAP_WEBHOOKS_TEST_VENVS, TAP_WEBHOOKS_TEST_WHEEL and PGHOST/PGPORT/PGUSER for the
# tests.
# Needs python3 with venv, and the PostgreSQL server (Debian: apt-get install postgresql).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"

for req in "$ROOT"/tests/python/*.txt; do
    setup_venv "$(basename "$req" .txt)" || exit 1
done
export TAP_WEBHOOKS_TEST_VENVS="$VENVS"

# The release wheel, for the tests that install it (wheel::, meltano::): rebuilt only when a
# source changed since it was built.
TAP_WEBHOOKS_TEST_WHEEL="$("$ROOT/scripts/build-wheel.sh")" || exit 1
export TAP_WEBHOOKS_TEST_WHEEL

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
