#!/usr/bin/env bash
# Replay benchmark. One command: scripts/bench-replay.sh
#
# Builds release binaries, generates an NDJSON capture of Stripe-style events (~600 bytes
# each; BENCH_MB megabytes, default 128), then replays it with `tap-webhooks replay` (default
# config: generated __sdc_primary_key; and with primary_key "id") and with a baseline that
# only parses each line with serde_json and writes it back as a RECORD line
# (examples/ndjson_baseline.rs). Output goes to /dev/null. Prints MB/s, records/s and peak
# memory (max RSS) for each, best of BENCH_RUNS runs (default 3), and the ratio to the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."

MB=${BENCH_MB:-128}
RUNS=${BENCH_RUNS:-3}
WORK=${BENCH_DIR:-target/bench-replay}

# Peak memory comes from GNU time (a small binary, so its fork does not inflate the figure).
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 1; }

cargo build --release --locked --bin tap-webhooks --example ndjson_baseline --example gen_capture >&2

mkdir -p "$WORK"
capture="$WORK/capture-${MB}mb.ndjson"
if [ ! -s "$capture" ]; then
  target/release/examples/gen_capture "$MB" > "$capture.tmp"
  mv "$capture.tmp" "$capture"
fi
bytes=$(stat -c %s "$capture")
records=$(wc -l < "$capture")

rm -rf "$WORK/data"
printf '{"data_dir": "%s/data"}\n' "$WORK" > "$WORK/generated-key.json"
printf '{"data_dir": "%s/data", "primary_key": "id"}\n' "$WORK" > "$WORK/primary-key.json"

# best_of NAME COMMAND...: runs COMMAND (stdout to /dev/null) RUNS times; sets SECONDS_BEST and
# RSS_KB (the largest peak RSS seen).
best_of() {
  local name=$1; shift
  SECONDS_BEST=""; RSS_KB=0
  for _ in $(seq "$RUNS"); do
    local start end elapsed rss
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$WORK/rss.txt" "$@" > /dev/null 2> "$WORK/$name.stderr" \
      || { cat "$WORK/$name.stderr" >&2; exit 1; }
    end=$(date +%s.%N)
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')
    rss=$(tail -1 "$WORK/rss.txt")
    if [ -z "$SECONDS_BEST" ] || awk -v a="$elapsed" -v b="$SECONDS_BEST" 'BEGIN { exit !(a < b) }'; then
      SECONDS_BEST=$elapsed
    fi
    if [ "$rss" -gt "$RSS_KB" ]; then RSS_KB=$rss; fi
  done
}

report() {
  awk -v name="$1" -v bytes="$bytes" -v records="$records" -v s="$SECONDS_BEST" -v rss="$RSS_KB" \
    'BEGIN { printf "%-34s %8.1f MB/s %10.0f records/s   peak RSS %6.1f MB   (%.3f s)\n",
             name, bytes / s / 1e6, records / s, rss / 1024, s }'
}

printf 'capture: %s (%d MB, %d records, %d bytes/record), best of %d runs\n' "$capture" \
  "$((bytes / 1000000))" "$records" "$((bytes / records))" "$RUNS"

best_of baseline target/release/examples/ndjson_baseline "$capture"
baseline=$SECONDS_BEST
report "baseline (serde_json parse+write)"

best_of tap target/release/tap-webhooks replay --config "$WORK/generated-key.json" "$capture"
tap=$SECONDS_BEST
report "tap-webhooks replay"
grep -h 'replayed' "$WORK/tap.stderr" | sed 's/^/  /'

best_of tap-pk target/release/tap-webhooks replay --config "$WORK/primary-key.json" "$capture"
tap_pk=$SECONDS_BEST
report "tap-webhooks replay (primary_key)"

awk -v b="$baseline" -v t="$tap" -v p="$tap_pk" \
  'BEGIN { printf "ratio tap/baseline (throughput): %.2f (primary_key: %.2f)\n", b / t, b / p }'
