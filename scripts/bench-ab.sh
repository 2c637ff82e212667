#!/usr/bin/env bash
# Before/after: tap binaries (a base and one or more changes) and the minimal server, side by
# side in one run.
#
#   scripts/bench-ab.sh BASE_TAP NEW_TAP [MORE_TAPS...]
#
# Starts the taps (listening syncs, fresh data_dirs, Singer output to /dev/null, default
# settings except min_free_disk_bytes: 0) and examples/minimal_server.rs, then for each
# concurrency in BENCH_CONNECTIONS (default "1 8 32 128") runs BENCH_ROUNDS (default 3)
# closed-loop rounds of BENCH_SECONDS (default 5) against each server, the order rotating every
# round, and prints the medians (req/s, p50, p99) and each tap's ratio to the minimal server.
# BENCH_SERVER_CPUS and BENCH_LOADGEN_CPUS pin the servers and the load generator (taskset CPU
# lists; see scripts/bench-lib.sh).
# BENCH_SETTINGS adds config members to every tap, e.g. '"max_concurrent_requests": 256' (taps
# from before issue 14 refuse with 429 past 64 concurrent requests by default).
# Before the runs it measures the disk's fdatasync (examples/fsync_probe.rs): the ceiling of
# one sender is 1 / fdatasync, of 8 senders 8 / (fdatasync + the minimal server's round trip).
# Disk: each tap's journal grows by some 30 MB a second while it is driven, and is kept until
# the end (the defaults with two taps: ~6 GB in BENCH_DIR); it is removed on exit.
# Build first: cargo build --release --example minimal_server --example loadgen
#   --example gen_payload --example fsync_probe
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

[ $# -ge 2 ] || { echo "usage: bench-ab.sh BASE_TAP NEW_TAP [MORE_TAPS...]" >&2; exit 2; }
TAPS=("$@")
ROUNDS=${BENCH_ROUNDS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-5}
CONNECTIONS=${BENCH_CONNECTIONS:-"1 8 32 128"}
WORK=${BENCH_DIR:-target/bench-ab}
MINIMAL=target/release/examples/minimal_server
LOADGEN=target/release/examples/loadgen
GEN=target/release/examples/gen_payload
PROBE=target/release/examples/fsync_probe

rm -rf "$WORK"; mkdir -p "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"/*/data # the journals: each tap writes some 30 MB/s while it is driven
}
trap cleanup EXIT

field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f-%.0f", lo, hi }'; }

declare -A URL
start_tap() {
  local name=$1 bin=$2 dir="$WORK/$1"
  mkdir -p "$dir"
  printf '{"bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0, "shutdown_grace_seconds": 5%s}\n' \
    "$dir" "${BENCH_SETTINGS:+, $BENCH_SETTINGS}" > "$dir/config.json"
  "${SERVER_ON[@]}" "$bin" --config "$dir/config.json" > /dev/null 2> "$dir/stderr" &
  PIDS+=("$!")
  URL[$name]=$(wait_for_line "$dir/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
}

echo "== fdatasync of this disk (4 KiB records, median and p99, us)"
FSYNC=$("$PROBE" "$WORK" "${BENCH_FSYNC_COUNT:-1000}")
echo "$FSYNC"

"$GEN" 600 > "$WORK/payload.json"
servers=(minimal)
for i in "${!TAPS[@]}"; do
  name=$(basename "${TAPS[$i]}"); [ "$i" = 0 ] && name=base
  start_tap "$name" "${TAPS[$i]}"
  servers+=("$name")
done
"${SERVER_ON[@]}" "$MINIMAL" > /dev/null 2> "$WORK/minimal.stderr" &
PIDS+=("$!")
URL[minimal]="$(wait_for_line "$WORK/minimal.stderr" 'http://[^ ]*')/webhooks/bench"

n=${#servers[@]}
for c in $CONNECTIONS; do
  declare -A RPS=() P50=() P99=()
  for round in $(seq "$ROUNDS"); do
    # Rotate the order so that no server always runs first (or right after another).
    shift_by=$(( (round - 1) % n ))
    order=("${servers[@]:$shift_by}" "${servers[@]:0:$shift_by}")
    for who in "${order[@]}"; do
      r=$("${LOADGEN_ON[@]}" "$LOADGEN" "${URL[$who]}" "$WORK/payload.json" --connections "$c" --duration "$SECONDS_PER_RUN" --warmup 1)
      [ "$(field "$r" errors)" = 0 ] || echo "WARNING: $who errors: $r" >&2
      RPS[$who]+="$(field "$r" rps) "; P50[$who]+="$(field "$r" p50_us) "; P99[$who]+="$(field "$r" p99_us) "
    done
  done
  # shellcheck disable=SC2086
  m=$(median ${RPS[minimal]})
  for who in "${servers[@]}"; do
    # shellcheck disable=SC2086
    printf '%3s senders %-8s %8.0f req/s (%s)  p50 %6.3f ms  p99 %6.3f ms  ratio %.2f\n' "$c" "$who" \
      "$(median ${RPS[$who]})" "$(spread ${RPS[$who]})" \
      "$(awk -v u="$(median ${P50[$who]})" 'BEGIN { print u / 1000 }')" \
      "$(awk -v u="$(median ${P99[$who]})" 'BEGIN { print u / 1000 }')" \
      "$(awk -v a="$(median ${RPS[$who]})" -v b="$m" 'BEGIN { print a / b }')"
  done
  if [ "$c" = 1 ] || [ "$c" = 8 ]; then
    # The fsync anchor: what the disk's median fdatasync allows this many senders.
    # shellcheck disable=SC2086
    awk -v f="$(field "$FSYNC" append_p50_us)" -v o="$(field "$FSYNC" overwrite_p50_us)" \
        -v rtt="$(median ${P50[minimal]})" -v c="$c" \
      'BEGIN { printf "    fsync anchor (%d / (fdatasync%s)): appending %.0f req/s, over zeroed blocks %.0f req/s\n",
                 c, (c > 1 ? " + round trip" : ""), c * 1e6 / (f + (c > 1 ? rtt : 0)), c * 1e6 / (o + (c > 1 ? rtt : 0)) }'
  fi
done
echo "== fdatasync again, after the runs"
"$PROBE" "$WORK" "${BENCH_FSYNC_COUNT:-1000}"
