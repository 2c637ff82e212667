#!/usr/bin/env bash
# Instruction counts of the tap's three hot paths, for "within N% of before" checks. Wall time
# on this shared VM moves by ±20% between runs of one binary; the instructions the tap executes
# (valgrind, user space only, the tap's process only, not the load generator's) move by well
# under 1%, so two binaries can be compared in one run or across runs.
#
#   scripts/bench-instructions.sh                 # builds target/release/tap-webhooks, measures it
#                                                 # (cargo build --release --bin tap-webhooks
#                                                 #  --example loadgen --example gen_payload
#                                                 #  --example gen_capture: build B the same way)
#   scripts/bench-instructions.sh TAP             # measures the binary TAP
#   scripts/bench-instructions.sh TAP_A TAP_B     # both on the same inputs, with B's change from A
#
# What it measures (each binary on the same inputs, generated once per run, deterministic):
#
#   1. serve: the tap as a listening sync (fresh data_dir, min_free_disk_bytes 0, Singer output
#      to /dev/null) under `valgrind --tool=callgrind`, sent BENCH_REQUESTS (default 10,000)
#      requests of a 629-byte Stripe-style event (examples/gen_payload.rs 600) from 32
#      keep-alive senders (examples/loadgen.rs --max-requests, not under valgrind); then SIGTERM:
#      the emitter drains every committed entry and the tap exits, so valgrind writes its counts.
#      Every request must get a 2xx and the tap must log "emitted N records", or the script
#      stops. Per request = (that run - an idle run that only starts and stops) / requests.
#      callgrind rather than cachegrind (the same instruction count, Ir) only so that
#      --toggle-collect can leave out quanta::Clock::new: the metrics exporter calibrates its
#      clock by spinning for up to 200 ms of wall time, 2-7 M instructions that follow the CPU's
#      load (under cachegrind the idle run varied by 34% and serve by 0.6% from that alone).
#   2. file replay: `replay` of a BENCH_CAPTURE_MB (default 16) MB NDJSON capture
#      (examples/gen_capture.rs, fixed seed: 26,880 events for 16 MB) into a fresh data_dir,
#      under `valgrind --tool=cachegrind --cache-sim=no`.
#   3. journal replay: `replay --journal` of BENCH_JOURNAL_ENTRIES (default 60,000) entries,
#      under cachegrind as 2. The journal is written first by the same binary's `serve` (not
#      under valgrind; the same event from 32 senders), so a change to what an entry holds
#      shows here; each measured replay gets a fresh copy of that data_dir (a journal replay
#      records how far its persisted schema has seen the journal, which lets a second skip a read).
#
# Counts are printed in millions (M) or thousands (k) of instructions. What is left of the
# noise (7 measurements of one binary): serving, 0.14% per request, from thread scheduling (how
# many entries share an fdatasync, how often a worker parks); file replay 0.04% and journal
# replay 0.004% (likely timers: METRIC lines, the allocator's decay). Measuring one binary
# against itself (TAP TAP) shows it. With the defaults a binary takes about 80 s on a 2-core VM.
#
# Settings (environment): BENCH_CONFIG (JSON members added to the listening sync's config, e.g.
# '"ops_bind": "127.0.0.1:0"' to measure with the inspector on), BENCH_REQUESTS, BENCH_SENDERS
# (default 32), BENCH_CAPTURE_MB,
# BENCH_JOURNAL_ENTRIES, BENCH_DIR (default target/bench-instructions; the callgrind and
# cachegrind output files are kept there, BENCH_DIR/0 for A and /1 for B, for callgrind_annotate,
# cg_annotate and cg_diff), BENCH_TOOLS (a directory holding loadgen, gen_payload and
# gen_capture; default: built from this checkout's examples; inputs are the same across runs
# only when made by the same tools), BENCH_SERVER_CPUS (a taskset CPU list for the measured
# tap; see scripts/bench-lib.sh), BENCH_HEADERS (headers the senders add to every request, one per
# line; `{seq}` in a value becomes a number unique to each request, `{hmac-sha256-hex}` the hex
# HMAC-SHA256 of the event under BENCH_SECRET: with BENCH_CONFIG '"sender": "github",
# "signature": {"secret": "s"}' and BENCH_SECRET=s, BENCH_HEADERS=$'X-GitHub-Event: push\n
# X-GitHub-Delivery: {seq}\nX-Hub-Signature-256: sha256={hmac-sha256-hex}' measures the github
# preset).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

REQUESTS=${BENCH_REQUESTS:-10000}
SENDERS=${BENCH_SENDERS:-32}
CAPTURE_MB=${BENCH_CAPTURE_MB:-16}
JOURNAL_ENTRIES=${BENCH_JOURNAL_ENTRIES:-60000}
WORK=${BENCH_DIR:-target/bench-instructions}

[ $# -le 2 ] || { echo "usage: bench-instructions.sh [TAP_A [TAP_B]]" >&2; exit 2; }
VALGRIND=$(command -v valgrind || true)
[ -n "$VALGRIND" ] || { echo "bench-instructions.sh needs valgrind (Debian: apt-get install valgrind)" >&2; exit 1; }

# One cargo invocation for the tap and the examples, as scripts/bench.sh builds them: the
# examples' dev-dependencies add features to dependencies the tap shares (hyper's client, ...),
# so a tap built alone is a slightly different binary (-0.2% instructions serving, +0.07% on a
# file replay, in one measurement). Build the binaries you compare the same way.
BUILD=()
if [ $# = 0 ]; then BUILD+=(--bin tap-webhooks); fi
if [ $# = 0 ] || [ -z "${BENCH_TOOLS:-}" ]; then
  BUILD+=(--example loadgen --example gen_payload --example gen_capture)
  cargo build --release --locked "${BUILD[@]}" >&2
fi
TOOLS=${BENCH_TOOLS:-target/release/examples}
for tool in loadgen gen_payload gen_capture; do
  [ -x "$TOOLS/$tool" ] || { echo "no executable $TOOLS/$tool (BENCH_TOOLS)" >&2; exit 1; }
done
if [ $# = 0 ]; then set -- target/release/tap-webhooks; fi
TAPS=()
for tap in "$@"; do
  [ -x "$tap" ] || { echo "not an executable: $tap" >&2; exit 1; }
  TAPS+=("$(realpath "$tap")")
done

rm -rf "$WORK"; mkdir -p "$WORK"
WORK=$(realpath "$WORK")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"/*/*/data "$WORK"/*/journal-data "$WORK"/*/replay-data
}
trap cleanup EXIT

field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

# under TOOL OUT_FILE: sets CG, the command prefix that runs a program under valgrind's TOOL
# (pinned by BENCH_SERVER_CPUS: taskset goes outside valgrind, which counts only the process it
# starts). An array, not a function, so that `"${CG[@]}" tap &` leaves the tap's pid in $!.
# callgrind (for the listening runs) leaves out quanta::Clock::new: the metrics exporter's clock
# calibration spins for up to 200 ms of wall time, so its count (2-7 M) follows the CPU's load.
under() {
  case $1 in
    cachegrind) CG=("$VALGRIND" --tool=cachegrind --cache-sim=no --cachegrind-out-file="$2") ;;
    callgrind) CG=("$VALGRIND" --tool=callgrind --callgrind-out-file="$2"
      --toggle-collect='quanta::Clock::new' --collect-atstart=yes) ;;
  esac
  CG=("${SERVER_ON[@]}" "${CG[@]}" --log-file="$2.log")
}

# instructions OUT_FILE: the total Ir of a cachegrind run.
instructions() {
  local n
  n=$(awk '/^summary:/ { print $2 }' "$1" 2>/dev/null || true)
  [ -n "$n" ] || { echo "no instruction count in $1 (valgrind log: $1.log)" >&2; cat "$1.log" >&2; exit 1; }
  echo "$n"
}

# expect_count LOG PATTERN N: the number after PATTERN in LOG must be N (a count the tap logs;
# a binary that logs no such line is let through with a warning).
expect_count() {
  local got
  got=$(grep -o -E "$2 [0-9]+" "$1" | tail -n 1 | grep -o -E '[0-9]+$' || true)
  if [ -z "$got" ]; then
    echo "WARNING: no '$2 N' line in $1: cannot check that it handled $3" >&2
  elif [ "$got" != "$3" ]; then
    echo "expected $3 in $1, found '$2 $got'" >&2; exit 1
  fi
}

# listen_config DIR: a listening sync's config on a fresh data_dir DIR/data.
listen_config() {
  rm -rf "$1"; mkdir -p "$1"
  printf '{"bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0, "shutdown_grace_seconds": 5%s}\n' \
    "$1" "${BENCH_CONFIG:+, $BENCH_CONFIG}" > "$1/config.json"
}

# stop_and_wait PID: SIGTERM, then wait for a clean exit.
stop_and_wait() {
  kill -TERM "$1"
  wait "$1" || { echo "the tap (pid $1) exited with status $?" >&2; exit 1; }
}

# drive URL COUNT: COUNT requests from SENDERS senders; stops the script unless all got a 2xx.
drive() {
  local result
  result=$("${LOADGEN_ON[@]}" "$TOOLS/loadgen" "$1" "$WORK/payload.json" --connections "$SENDERS" \
    --warmup 0 --duration 3600 --max-requests "$2" "${HEADER_ARGS[@]}")
  if [ "$(field "$result" requests)" != "$2" ] || [ "$(field "$result" errors)" != 0 ]; then
    echo "expected $2 answered requests: $result" >&2; exit 1
  fi
}

# measure_serve DIR TAP: sets IDLE and SERVE (instructions).
measure_serve() {
  local dir=$1 tap=$2 pid url
  listen_config "$dir/idle"
  under callgrind "$dir/idle.callgrind"
  "${CG[@]}" "$tap" --config "$dir/idle/config.json" \
    > /dev/null 2> "$dir/idle/stderr" &
  pid=$!; PIDS+=("$pid")
  wait_for_line "$dir/idle/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+' > /dev/null
  stop_and_wait "$pid"
  IDLE=$(instructions "$dir/idle.callgrind")

  listen_config "$dir/serve"
  under callgrind "$dir/serve.callgrind"
  "${CG[@]}" "$tap" --config "$dir/serve/config.json" \
    > /dev/null 2> "$dir/serve/stderr" &
  pid=$!; PIDS+=("$pid")
  url=$(wait_for_line "$dir/serve/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
  drive "$url" "$REQUESTS"
  stop_and_wait "$pid"
  expect_count "$dir/serve/stderr" "emitted" "$REQUESTS"
  SERVE=$(instructions "$dir/serve.callgrind")
  rm -rf "$dir/idle/data" "$dir/serve/data"
}

# measure_files DIR TAP: sets FILES.
measure_files() {
  local dir=$1 tap=$2
  rm -rf "$dir/replay-data"
  printf '{"data_dir": "%s/replay-data"}\n' "$dir" > "$dir/replay.json"
  under cachegrind "$dir/files.cachegrind"
  "${CG[@]}" "$tap" replay --config "$dir/replay.json" "$WORK/capture.ndjson" \
    > /dev/null 2> "$dir/files.stderr" || { cat "$dir/files.stderr" >&2; exit 1; }
  expect_count "$dir/files.stderr" "file[s]?:" "$EVENTS"
  FILES=$(instructions "$dir/files.cachegrind")
  rm -rf "$dir/replay-data"
}

# write_journal DIR TAP: JOURNAL_ENTRIES entries in DIR/journal-data, by TAP's own `serve`.
write_journal() {
  local dir=$1 tap=$2 pid url
  rm -rf "$dir/journal-data" "$dir/writer"; mkdir -p "$dir/writer"
  printf '{"bind": "127.0.0.1:0", "data_dir": "%s/journal-data", "min_free_disk_bytes": 0, "shutdown_grace_seconds": 5}\n' \
    "$dir" > "$dir/writer/config.json"
  "${SERVER_ON[@]}" "$tap" serve --config "$dir/writer/config.json" > /dev/null 2> "$dir/writer/stderr" &
  pid=$!; PIDS+=("$pid")
  url=$(wait_for_line "$dir/writer/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
  drive "$url" "$JOURNAL_ENTRIES"
  stop_and_wait "$pid"
}

# measure_journal DIR TAP: sets JOURNAL (instructions) and JOURNAL_MB (its segments' size).
measure_journal() {
  local dir=$1 tap=$2
  rm -rf "$dir/replay-data"
  cp -a "$dir/journal-data" "$dir/replay-data"
  JOURNAL_MB=$(du -sm "$dir/replay-data/journal" | cut -f1)
  printf '{"data_dir": "%s/replay-data", "min_free_disk_bytes": 0}\n' "$dir" > "$dir/journal.json"
  under cachegrind "$dir/journal.cachegrind"
  "${CG[@]}" "$tap" replay --journal --config "$dir/journal.json" \
    > /dev/null 2> "$dir/journal.stderr" || { cat "$dir/journal.stderr" >&2; exit 1; }
  expect_count "$dir/journal.stderr" "the journal:" "$JOURNAL_ENTRIES"
  JOURNAL=$(instructions "$dir/journal.cachegrind")
  rm -rf "$dir/replay-data"
}

# ---------------------------------------------------------------------------------------------
"$TOOLS/gen_payload" 600 > "$WORK/payload.json"
HEADER_ARGS=()
if [ -n "${BENCH_HEADERS:-}" ]; then
  mac=$(python3 -c 'import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2], "rb").read(), hashlib.sha256).hexdigest())' \
    "${BENCH_SECRET:-}" "$WORK/payload.json")
  while IFS= read -r line; do
    [ -n "$line" ] && HEADER_ARGS+=(--header "${line//\{hmac-sha256-hex\}/$mac}")
  done <<< "$BENCH_HEADERS"
fi
"$TOOLS/gen_capture" "$CAPTURE_MB" > "$WORK/capture.ndjson"
EVENTS=$(wc -l < "$WORK/capture.ndjson")
echo "inputs: $(stat -c %s "$WORK/payload.json")-byte event (sha256 $(sha256sum "$WORK/payload.json" | cut -c1-12)), \
capture $(stat -c %s "$WORK/capture.ndjson") bytes / $EVENTS events (sha256 $(sha256sum "$WORK/capture.ndjson" | cut -c1-12))"
echo "$("$VALGRIND" --version), $(nproc) CPUs, tools from $TOOLS"

declare -A RESULT
for i in "${!TAPS[@]}"; do
  tap=${TAPS[$i]}; dir="$WORK/$i"; mkdir -p "$dir"
  echo "tap $((i + 1)): $tap ($("$tap" --version 2>/dev/null || echo '?'), sha256 $(sha256sum "$tap" | cut -c1-12))"
  started=$(date +%s)
  measure_serve "$dir" "$tap"
  measure_files "$dir" "$tap"
  write_journal "$dir" "$tap"
  measure_journal "$dir" "$tap"
  rm -rf "$dir/journal-data"
  RESULT[$i,per_request]=$(awk -v s="$SERVE" -v i="$IDLE" -v n="$REQUESTS" 'BEGIN { printf "%.0f", (s - i) / n }')
  RESULT[$i,idle]=$IDLE; RESULT[$i,serve]=$SERVE; RESULT[$i,files]=$FILES
  RESULT[$i,journal]=$JOURNAL; RESULT[$i,journal_mb]=$JOURNAL_MB
  echo "  measured in $(( $(date +%s) - started )) s; raw counts: idle $IDLE, serve $SERVE, files $FILES, journal $JOURNAL (journal $JOURNAL_MB MB on disk)"
done

# row LABEL KEY UNIT: one line of the table; UNIT k or M.
row() {
  local label=$1 key=$2 unit=$3 div a b
  div=$([ "$unit" = k ] && echo 1e3 || echo 1e6)
  a=${RESULT[0,$key]}
  if [ ${#TAPS[@]} = 1 ]; then
    awk -v l="$label" -v a="$a" -v d="$div" -v u="$unit" 'BEGIN { printf "%-52s %12.1f %s\n", l, a / d, u }'
  else
    b=${RESULT[1,$key]}
    awk -v l="$label" -v a="$a" -v b="$b" -v d="$div" -v u="$unit" \
      'BEGIN { printf "%-52s %12.1f %s %12.1f %s %+8.2f%%\n", l, a / d, u, b / d, u, (b - a) / a * 100 }'
  fi
}

echo
if [ ${#TAPS[@]} = 1 ]; then
  printf '%-52s %14s\n' "instructions" "tap"
else
  printf '%-52s %14s %14s %9s\n' "instructions" "A" "B" "B vs A"
fi
row "serve, $REQUESTS requests from $SENDERS senders: per request" per_request k
row "serve: start and stop alone (total)" idle M
row "file replay, $CAPTURE_MB MB capture ($EVENTS events)" files M
row "replay --journal, $JOURNAL_ENTRIES entries (own journal)" journal M
if [ ${#TAPS[@]} = 2 ]; then
  echo "A: ${TAPS[0]}"; echo "B: ${TAPS[1]}"
fi
