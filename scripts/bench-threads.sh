#!/usr/bin/env bash
# Where a request's CPU goes: each server's CPU time per request, by thread name, over a fixed
# number of closed-loop requests, with the load generator's own.
#
#   scripts/bench-threads.sh TAP [MORE_TAPS...]
#
# Runs examples/minimal_server.rs, then each tap (a listening sync, fresh data_dir, Singer
# output to /dev/null, default settings except min_free_disk_bytes: 0), one at a time,
# BENCH_ROUNDS times (default 2) in turn. Each run sends BENCH_REQUESTS (default 300000)
# requests over BENCH_CONNECTIONS (default 32) connections after a 1 s warm-up, and prints
# microseconds of CPU (user + system, from /proc/PID/task/*/stat) per request for each thread
# name, the server's total, the load generator's, and for a tap the webhooks per journal
# commit. CPU time per request is steadier than req/s on a shared machine; a server and its
# load generator together using less than the machine's cores means the server is waiting,
# not computing. (The kernel charges a tick to whatever runs when it fires, so figures below
# ~0.5 us are noise.) BENCH_SERVER_CPUS and BENCH_LOADGEN_CPUS pin the servers and the load
# generator (taskset CPU lists; see scripts/bench-lib.sh).
# Build first: cargo build --release --example minimal_server --example loadgen
#   --example gen_payload
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

[ $# -ge 1 ] || { echo "usage: bench-threads.sh TAP [MORE_TAPS...]" >&2; exit 2; }
ROUNDS=${BENCH_ROUNDS:-2}
REQUESTS=${BENCH_REQUESTS:-300000}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WORK=${BENCH_DIR:-target/bench-threads}
MINIMAL=target/release/examples/minimal_server
LOADGEN=target/release/examples/loadgen
GEN=target/release/examples/gen_payload
for tool in "$MINIMAL" "$LOADGEN" "$GEN"; do
  [ -x "$tool" ] || { echo "$tool is missing: cargo build --release --example $(basename "$tool")" >&2; exit 1; }
done

rm -rf "$WORK"; mkdir -p "$WORK"
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$WORK"/*/data
}
trap cleanup EXIT
"$GEN" 600 > "$WORK/payload.json"
HZ=$(getconf CLK_TCK)

# Clock ticks of each thread name of process $1, "name ticks" per line, sorted.
ticks() {
  for task in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ < "$task/comm")" "$(awk '{ print $14 + $15 }' "$task/stat")"
  done | awk '{ t[$1] += $2 } END { for (k in t) print k, t[k] }' | sort
}

commits() {
  curl -s "$1/metrics" | awk '/^tap_webhooks_journal_commit_entries_count/ { print $2 }'
}

run() {
  local name=$1 bin=$2 dir="$WORK/$1" url base
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$bin" = minimal ]; then
    "${SERVER_ON[@]}" "$MINIMAL" > /dev/null 2> "$dir/stderr" &
    PID=$!
    url="$(wait_for_line "$dir/stderr" 'http://[^ ]*')/webhooks/bench"
  else
    printf '{"bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0}\n' "$dir" \
      > "$dir/config.json"
    "${SERVER_ON[@]}" "$bin" --config "$dir/config.json" > /dev/null 2> "$dir/stderr" &
    PID=$!
    url=$(wait_for_line "$dir/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
  fi
  base=${url%/webhooks/*}
  "${LOADGEN_ON[@]}" "$LOADGEN" "$url" "$WORK/payload.json" --connections "$CONNECTIONS" --duration 1 \
    --warmup 0 > /dev/null
  local c0 c1
  c0=$(commits "$base")
  ticks "$PID" > "$dir/before"
  local t0 t1
  t0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  "${LOADGEN_ON[@]}" "$LOADGEN" "$url" "$WORK/payload.json" --connections "$CONNECTIONS" --duration 600 \
    --warmup 0 --max-requests "$REQUESTS" > "$dir/load.txt"
  t1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  ticks "$PID" > "$dir/after"
  c1=$(commits "$base")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  printf '%-14s %s' "$name" "$(grep -o 'rps=[0-9]*' "$dir/load.txt") "
  join "$dir/before" "$dir/after" | awk -v n="$REQUESTS" -v hz="$HZ" '
    { us = ($3 - $2) * 1e6 / hz / n; total += us; if (us >= 0.05) printf "%s=%.2f ", $1, us }
    END { printf "server=%.2f ", total }'
  awk -v n="$REQUESTS" -v hz="$HZ" -v t="$((t1 - t0))" 'BEGIN { printf "loadgen=%.2f ", t * 1e6 / hz / n }'
  if [ -n "$c1" ]; then
    awk -v n="$REQUESTS" -v a="${c0:-0}" -v b="$c1" 'BEGIN { printf "webhooks_per_commit=%.1f", n / (b - a) }'
  fi
  echo
}

echo "== CPU per request (us), $CONNECTIONS connections, $REQUESTS requests"
for round in $(seq "$ROUNDS"); do
  run minimal minimal
  for bin in "$@"; do run "$(basename "$bin")" "$bin"; done
done
