#!/usr/bin/env bash
# What an open inspector page costs the tap, in instructions (valgrind callgrind, the tap's
# process only), complementing scripts/bench-instructions.sh (which measures serving with the
# inspector on and no page open: BENCH_CONFIG='"ops_bind": "127.0.0.1:0"').
#
#   scripts/bench-inspector-page.sh TAP            # a release build of tap-webhooks
#
# Two runs of TAP as a listening sync with ops_bind, each sent the same 200 webhooks and 20
# refused requests (so the rings and a persisted schema hold something), then: one stops at
# once, the other first answers PAGE_POLLS (default 120) poll rounds of the page, as its script
# makes them each second: /api/status, /api/deliveries?after=…, /api/refusals?after=…, every
# third round /api/streams and every tenth /api/tokens. Per round = the difference / rounds.
# Needs valgrind and curl; about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
TAP=$(realpath "${1:?usage: bench-inspector-page.sh TAP}")
POLLS=${PAGE_POLLS:-120}
WORK=$(mktemp -d /tmp/bench-inspector-page.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# run NAME POLLS: prints the instructions of one run.
run() {
  local dir="$WORK/$1" polls=$2 pid base ops token newest
  mkdir -p "$dir"
  printf '{"bind": "127.0.0.1:0", "ops_bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0}\n' \
    "$dir" > "$dir/config.json"
  valgrind --tool=callgrind --callgrind-out-file="$dir/out" --log-file="$dir/valgrind.log" \
    --toggle-collect='quanta::Clock::new' --collect-atstart=yes \
    "$TAP" --config "$dir/config.json" > /dev/null 2> "$dir/stderr" &
  pid=$!
  for _ in $(seq 600); do grep -q '/webhooks/[0-9a-f]\{64\}' "$dir/stderr" && break; sleep 0.1; done
  base=$(grep -o 'listening on http://[^ ]*' "$dir/stderr" | head -1 | cut -d' ' -f3)
  ops=$(grep -o 'endpoints on http://[^ ]*' "$dir/stderr" | head -1 | cut -d' ' -f3)
  token=$(grep -o '/webhooks/[0-9a-f]\{64\}' "$dir/stderr" | head -1 | cut -d/ -f3)
  for i in $(seq 200); do
    curl -s -o /dev/null -H 'content-type: application/json' -H "X-Request-Id: r-$i" \
      -d "{\"id\": $i, \"type\": \"charge.succeeded\", \"amount\": $((i * 100))}" "$base/webhooks/$token"
  done
  for i in $(seq 20); do curl -s -o /dev/null -d '{bad' "$base/webhooks/$token"; done
  newest=""
  for i in $(seq 0 $((polls - 1))); do
    curl -s -o /dev/null "$ops/api/status"
    if [ -z "$newest" ]; then
      newest=$(curl -s "$ops/api/deliveries?limit=100" | grep -o '"sequence":"[0-9]*"' | head -1 | cut -d'"' -f4)
    else
      curl -s -o /dev/null "$ops/api/deliveries?after=$newest"
    fi
    curl -s -o /dev/null "$ops/api/refusals?after=20&limit=100"
    [ $((i % 3)) = 0 ] && curl -s -o /dev/null "$ops/api/streams"
    [ $((i % 10)) = 0 ] && curl -s -o /dev/null "$ops/api/tokens"
  done
  kill -TERM "$pid"; wait "$pid"
  awk '/^summary:/ { print $2 }' "$dir/out"
}

closed=$(run closed 0)
open=$(run open "$POLLS")
awk -v c="$closed" -v o="$open" -v n="$POLLS" 'BEGIN {
  printf "page closed: %.1f M instructions; with %d poll rounds: %.1f M\n", c / 1e6, n, o / 1e6
  printf "one poll round (one second of an open page): %.0f k instructions\n", (o - c) / n / 1e3
}'
