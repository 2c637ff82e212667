#!/usr/bin/env bash
# Ingest benchmark, side by side with a minimal server. One command: scripts/bench.sh
#
# Builds release binaries and a ~600-byte Stripe-style event (examples/gen_payload.rs), starts
# the tap (a listening sync: durable journal, Singer output to /dev/null, fresh data_dir) and
# examples/minimal_server.rs (warp, parses the body with serde_json, writes a RECORD line to
# stdout, no journal), drives both with examples/loadgen.rs (keep-alive connections, HDR
# histogram), alternating runs, and prints throughput, p50/p99 latency, peak RSS and the
# ratios for the four goals of the performance issue:
#
#   1. durable ingest throughput >= 0.8x the minimal server's (closed loop, medians);
#   2. p99 at half the max throughput <= 2x the minimal server's (open loop, the same rate
#      for both: half of the lower of the two maxima);
#   3. a 20 MB body accepted with peak RSS < 3x its size; a stalled stdout consumer does not
#      grow memory (the journal takes the backlog) and the emitter catches up afterwards;
#   4. replay >= 0.5x the NDJSON baseline (scripts/bench-replay.sh).
#
# Then (unless BENCH_SCALING=0) the scaling picture: both servers with 1, 8, 32 and 128
# concurrent senders, and with 1 KB, 64 KB and 1 MB bodies.
#
# BENCH_NATS=1 runs only the NATS journal comparison instead: `serve` with the local journal,
# with a single-node NATS JetStream stream (R1) and with a 3-node cluster (R3), all on this
# machine (nats-server from Debian's nats-server package), at 32 and 128 connections:
# req/s, p50 and p99 (medians over BENCH_ROUNDS alternating rounds, default 3).
#
# Settings (environment): BENCH_QUICK=1 (a short run that checks the harness works, for CI;
# its figures mean little), BENCH_ROUNDS (alternating rounds, default 5), BENCH_SECONDS
# (per run, default 10), BENCH_CONNECTIONS (default 128: where both servers reach their maximum), BENCH_SCALING (1/0), BENCH_REPLAY
# (1/0), BENCH_DIR (default target/bench), BENCH_SERVER_CPUS and BENCH_LOADGEN_CPUS (taskset
# CPU lists for the servers and the load generator; see scripts/bench-lib.sh). Figures are
# medians over the rounds. Nothing here asserts a speed: it reports.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-lib.sh

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${BENCH_ROUNDS:-1}; SECONDS_PER_RUN=${BENCH_SECONDS:-2}; WARMUP=0.5
  SCALING=${BENCH_SCALING:-0}; REPLAY_MB=${BENCH_REPLAY_MB:-4}; STALL=6; SCALE_SECONDS=2
else
  ROUNDS=${BENCH_ROUNDS:-5}; SECONDS_PER_RUN=${BENCH_SECONDS:-10}; WARMUP=2
  SCALING=${BENCH_SCALING:-1}; REPLAY_MB=${BENCH_REPLAY_MB:-128}; STALL=15; SCALE_SECONDS=5
fi
CONNECTIONS=${BENCH_CONNECTIONS:-128}
REPLAY=${BENCH_REPLAY:-1}
WORK=${BENCH_DIR:-target/bench}

NATS=${BENCH_NATS:-0}
if [ "$NATS" = 1 ]; then
  REPLAY=0; ROUNDS=${BENCH_ROUNDS:-3}
  command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || {
    echo "BENCH_NATS=1 needs nats-server: apt-get install nats-server" >&2; exit 1; }
  command -v python3 >/dev/null || { echo "BENCH_NATS=1 needs python3 (to pick free ports)" >&2; exit 1; }
fi

for tool in awk sed grep dd mkfifo; do
  command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done
# scripts/bench-replay.sh measures peak memory with GNU time.
if [ "$REPLAY" = 1 ] && [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing GNU time (Debian package time) for the replay goal's peak memory" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq time >/dev/null
  fi
  [ -x /usr/bin/time ] || {
    echo "bench.sh needs /usr/bin/time for the replay goal (Debian: apt-get install time), or BENCH_REPLAY=0" >&2
    exit 1
  }
fi

cargo build --release --locked --bin tap-webhooks \
  --example minimal_server --example loadgen --example gen_payload --example fsync_probe >&2
TAP=target/release/tap-webhooks
MINIMAL=target/release/examples/minimal_server
LOADGEN=target/release/examples/loadgen
GEN=target/release/examples/gen_payload

rm -rf "$WORK"
mkdir -p "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"/*/data # the journals: gigabytes after a full run
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Helpers

# field LINE KEY: the value of KEY=value in a loadgen result line.
field() { sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# status_kb PID FIELD: VmHWM (peak RSS) or VmRSS of a process, in kB.
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }


# start_tap NAME STDOUT: starts the tap on a fresh data_dir; sets TAP_PID and TAP_URL.
start_tap() {
  local name=$1 out=$2 dir="$WORK/$1"
  rm -rf "$dir"; mkdir -p "$dir"
  printf '{"bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0, "shutdown_grace_seconds": 5}\n' \
    "$dir" > "$dir/config.json"
  "${SERVER_ON[@]}" "$TAP" --config "$dir/config.json" > "$out" 2> "$dir/stderr" &
  TAP_PID=$!; PIDS+=("$TAP_PID")
  TAP_URL=$(wait_for_line "$dir/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
}

# start_minimal NAME STDOUT: sets MIN_PID and MIN_URL.
start_minimal() {
  local name=$1 out=$2
  "${SERVER_ON[@]}" "$MINIMAL" > "$out" 2> "$WORK/$name.stderr" &
  MIN_PID=$!; PIDS+=("$MIN_PID")
  MIN_URL="$(wait_for_line "$WORK/$name.stderr" 'http://[^ ]*')/webhooks/bench"
}

stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# load URL BODY ARGS...: one loadgen run; prints its result line.
load() {
  local url=$1 body=$2; shift 2
  "${LOADGEN_ON[@]}" "$LOADGEN" "$url" "$body" --warmup "$WARMUP" "$@"
}

describe() {
  printf '%-9s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %s\n' "$1" "$(field "$2" rps)" \
    "$(awk -v u="$(field "$2" p50_us)" 'BEGIN { print u / 1000 }')" \
    "$(awk -v u="$(field "$2" p99_us)" 'BEGIN { print u / 1000 }')" "$(field "$2" errors)"
}

# ---------------------------------------------------------------------------------------------
# The machine

echo "== machine"
echo "cores: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel: $(uname -r)"
echo "disk under $WORK: $(df -h --output=source,fstype,size "$WORK" | tail -1 | tr -s ' ')"
# fdatasync cost: 4 KiB writes with O_DSYNC, each one durable before the next.
dd if=/dev/zero of="$WORK/fsync-probe" bs=4k count=500 oflag=dsync 2> "$WORK/dd.txt" || true
awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); printf "fsync (4 KiB O_DSYNC write): %.2f ms each, at most %.0f durable commits/s\n", s / 500 * 1000, 500 / s }' "$WORK/dd.txt"
rm -f "$WORK/fsync-probe"
# The median fdatasync, appending and over zeroed blocks (as the journal's segments are):
# the anchor for one sender (1 / fdatasync) and eight (8 / (fdatasync + round trip)).
echo "fdatasync, 4 KiB records (us): $(target/release/examples/fsync_probe "$WORK" 1000)"
if pgrep -f 'cargo-fuzz|/fuzz/' >/dev/null; then echo "WARNING: a fuzzer is running; figures are disturbed" >&2; fi

if [ "$NATS" = 1 ]; then
  "$GEN" 600 > "$WORK/payload.json"
  NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
  free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  # start_nats NAME NODES: a cluster of NODES nats-servers on loopback; sets NATS_URLS (JSON list).
  start_nats() {
    local name=$1 nodes=$2 dir="$WORK/$1" i routes="" urls="" clients=() route_ports=()
    mkdir -p "$dir"
    for i in $(seq "$nodes"); do clients+=("$(free_port)"); route_ports+=("$(free_port)"); done
    for i in $(seq 0 $((nodes - 1))); do routes+="${routes:+, }nats-route://127.0.0.1:${route_ports[$i]}"; done
    for i in $(seq 0 $((nodes - 1))); do
      {
        echo "server_name: $name-$i"
        echo "listen: 127.0.0.1:${clients[$i]}"
        echo "max_payload: 33554432"
        echo "jetstream { store_dir: \"$dir/store-$i\" }"
        [ "$nodes" -gt 1 ] && echo "cluster { name: $name, listen: 127.0.0.1:${route_ports[$i]}, routes: [$routes] }"
      } > "$dir/n$i.conf"
      "${SERVER_ON[@]}" "$NATS_SERVER" -c "$dir/n$i.conf" > "$dir/n$i.log" 2>&1 &
      PIDS+=("$!")
      urls+="${urls:+, }\"nats://127.0.0.1:${clients[$i]}\""
    done
    for i in $(seq 0 $((nodes - 1))); do wait_for_line "$dir/n$i.log" 'Server is ready' >/dev/null; done
    NATS_URLS="[$urls]"
  }
  # start_serve NAME JOURNAL_JSON: `serve` on a fresh data_dir with that journal; sets TAP_PID, TAP_URL.
  start_serve() {
    local name=$1 journal=$2 dir="$WORK/$1"
    rm -rf "$dir"; mkdir -p "$dir"
    printf '{"bind": "127.0.0.1:0", "data_dir": "%s/data", "min_free_disk_bytes": 0, "shutdown_grace_seconds": 5, "journal": %s}\n' \
      "$dir" "$journal" > "$dir/config.json"
    "${SERVER_ON[@]}" "$TAP" serve --config "$dir/config.json" > /dev/null 2> "$dir/stderr" &
    TAP_PID=$!; PIDS+=("$TAP_PID")
    TAP_URL=$(wait_for_line "$dir/stderr" 'http://[^ ]*/webhooks/[0-9a-zA-Z_-]+')
  }
  echo "payload: $(stat -c %s "$WORK/payload.json") bytes; $ROUNDS alternating rounds of ${SECONDS_PER_RUN} s (+${WARMUP} s warm-up) per point; receivers run serve"
  start_nats r1 1; R1_URLS=$NATS_URLS
  start_nats r3 3; R3_URLS=$NATS_URLS
  start_serve local '{"kind": "local"}'; LOCAL_URL=$TAP_URL; LOCAL_PID=$TAP_PID
  start_serve nats-r1 "{\"kind\": \"nats\", \"servers\": $R1_URLS, \"stream\": \"BENCH\", \"replicas\": 1, \"connect_timeout_seconds\": 20}"; R1_URL=$TAP_URL; R1_PID=$TAP_PID
  start_serve nats-r3 "{\"kind\": \"nats\", \"servers\": $R3_URLS, \"stream\": \"BENCH\", \"replicas\": 3, \"connect_timeout_seconds\": 20}"; R3_URL=$TAP_URL; R3_PID=$TAP_PID
  for url in "$LOCAL_URL" "$R1_URL" "$R3_URL"; do
    result=$("${LOADGEN_ON[@]}" "$LOADGEN" "$url" "$WORK/payload.json" --connections 1 --warmup 0 --duration 10 --max-requests 1)
    [ "$(field "$result" errors)" = 0 ] || { echo "$url does not answer 200: $result" >&2; exit 1; }
  done
  echo
  echo "== ingest: local journal vs NATS R1 vs NATS R3 (closed loop, medians)"
  printf '%-6s %-12s %10s %9s %9s %8s\n' conns journal "req/s" "p50 ms" "p99 ms" errors
  for c in 32 128; do
    declare -A rps=() p50=() p99=() errs=()
    for round in $(seq "$ROUNDS"); do
      order=(local nats-r1 nats-r3)
      [ $((round % 2)) = 0 ] && order=(nats-r3 nats-r1 local)
      for who in "${order[@]}"; do
        case $who in local) url=$LOCAL_URL ;; nats-r1) url=$R1_URL ;; nats-r3) url=$R3_URL ;; esac
        result=$(load "$url" "$WORK/payload.json" --connections "$c" --duration "$SECONDS_PER_RUN")
        rps[$who]+="$(field "$result" rps) "; p50[$who]+="$(field "$result" p50_us) "
        p99[$who]+="$(field "$result" p99_us) "; errs[$who]+="$(field "$result" errors) "
      done
    done
    for who in local nats-r1 nats-r3; do
      # shellcheck disable=SC2086
      printf '%-6s %-12s %10.0f %9.2f %9.2f %8s\n' "$c" "$who" "$(median ${rps[$who]})" \
        "$(awk -v u="$(median ${p50[$who]})" 'BEGIN { print u / 1000 }')" \
        "$(awk -v u="$(median ${p99[$who]})" 'BEGIN { print u / 1000 }')" "$(awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' <<<"${errs[$who]}")"
    done
    unset rps p50 p99 errs
  done
  echo "peak RSS of the receivers: local $(mb "$(status_kb "$LOCAL_PID" VmHWM)") MB, R1 $(mb "$(status_kb "$R1_PID" VmHWM)") MB, R3 $(mb "$(status_kb "$R3_PID" VmHWM)") MB"
  exit 0
fi

"$GEN" 600 > "$WORK/payload.json"
echo "payload: $(stat -c %s "$WORK/payload.json") bytes (Stripe-style event); $CONNECTIONS connections; $ROUNDS rounds of ${SECONDS_PER_RUN} s (+${WARMUP} s warm-up), alternating"

start_tap tap /dev/null
start_minimal minimal /dev/null
# Both answer before anything is measured.
for url in "$TAP_URL" "$MIN_URL"; do
  result=$("${LOADGEN_ON[@]}" "$LOADGEN" "$url" "$WORK/payload.json" --connections 1 --warmup 0 --duration 10 --max-requests 1)
  [ "$(field "$result" errors)" = 0 ] || { echo "$url does not answer 200: $result" >&2; exit 1; }
done

# ---------------------------------------------------------------------------------------------
echo
echo "== goal 1: durable ingest throughput >= 0.8x the minimal server (closed loop, $CONNECTIONS connections)"
tap_rps=(); min_rps=(); tap_p99s=(); min_p99s=()
for round in $(seq "$ROUNDS"); do
  order=(minimal tap); [ $((round % 2)) = 0 ] && order=(tap minimal)
  for who in "${order[@]}"; do
    if [ "$who" = tap ]; then url=$TAP_URL; else url=$MIN_URL; fi
    result=$(load "$url" "$WORK/payload.json" --connections "$CONNECTIONS" --duration "$SECONDS_PER_RUN")
    describe "$who" "$result" | sed "s/^/round $round: /"
    if [ "$who" = tap ]; then tap_rps+=("$(field "$result" rps)"); tap_p99s+=("$(field "$result" p99_us)")
    else min_rps+=("$(field "$result" rps)"); min_p99s+=("$(field "$result" p99_us)"); fi
  done
done
TAP_MAX=$(median "${tap_rps[@]}"); MIN_MAX=$(median "${min_rps[@]}")
GOAL1=$(ratio "$TAP_MAX" "$MIN_MAX")
printf 'median: tap %.0f req/s (p99 %.2f ms), minimal %.0f req/s (p99 %.2f ms)\n' "$TAP_MAX" \
  "$(awk -v u="$(median "${tap_p99s[@]}")" 'BEGIN { print u / 1000 }')" "$MIN_MAX" \
  "$(awk -v u="$(median "${min_p99s[@]}")" 'BEGIN { print u / 1000 }')"

# ---------------------------------------------------------------------------------------------
echo
RATE=$(awk -v a="$TAP_MAX" -v b="$MIN_MAX" 'BEGIN { m = (a < b ? a : b); printf "%d", m / 2 }')
echo "== goal 2: p99 at half the max throughput <= 2x the minimal server (open loop, $RATE req/s for both)"
tap_p99=(); min_p99=(); tap_p50=(); min_p50=()
for round in $(seq "$ROUNDS"); do
  order=(minimal tap); [ $((round % 2)) = 0 ] && order=(tap minimal)
  for who in "${order[@]}"; do
    if [ "$who" = tap ]; then url=$TAP_URL; else url=$MIN_URL; fi
    result=$(load "$url" "$WORK/payload.json" --connections "$CONNECTIONS" --duration "$SECONDS_PER_RUN" --rate "$RATE")
    describe "$who" "$result" | sed "s/^/round $round: /"
    if [ "$who" = tap ]; then tap_p99+=("$(field "$result" p99_us)"); tap_p50+=("$(field "$result" p50_us)")
    else min_p99+=("$(field "$result" p99_us)"); min_p50+=("$(field "$result" p50_us)"); fi
  done
done
TAP_P99=$(median "${tap_p99[@]}"); MIN_P99=$(median "${min_p99[@]}")
GOAL2=$(ratio "$TAP_P99" "$MIN_P99")
printf 'median: tap p50 %.2f ms p99 %.2f ms, minimal p50 %.2f ms p99 %.2f ms\n' \
  "$(awk -v u="$(median "${tap_p50[@]}")" 'BEGIN { print u / 1000 }')" "$(awk -v u="$TAP_P99" 'BEGIN { print u / 1000 }')" \
  "$(awk -v u="$(median "${min_p50[@]}")" 'BEGIN { print u / 1000 }')" "$(awk -v u="$MIN_P99" 'BEGIN { print u / 1000 }')"
TAP_HWM=$(status_kb "$TAP_PID" VmHWM); MIN_HWM=$(status_kb "$MIN_PID" VmHWM)
echo "peak RSS after goals 1-2: tap $(mb "$TAP_HWM") MB, minimal $(mb "$MIN_HWM") MB"
stop "$TAP_PID"; stop "$MIN_PID"

# ---------------------------------------------------------------------------------------------
echo
echo "== goal 3a: a 20 MB body is accepted with peak RSS < 3x its size"
"$GEN" 19900000 > "$WORK/big.json"
BIG=$(stat -c %s "$WORK/big.json")
start_tap big "$WORK/big.out"
IDLE_KB=$(status_kb "$TAP_PID" VmHWM)
result=$("${LOADGEN_ON[@]}" "$LOADGEN" "$TAP_URL" "$WORK/big.json" --connections 1 --warmup 0 --duration 120 --max-requests 3)
[ "$(field "$result" errors)" = 0 ] || { echo "the 20 MB bodies were refused: $result" >&2; exit 1; }
# Wait for the emitter to have written all three RECORDs (they are on disk already).
for _ in $(seq 300); do
  [ "$(grep -c '"type":"RECORD"' "$WORK/big.out" || true)" -ge 3 ] && break
  sleep 0.1
done
BIG_KB=$(status_kb "$TAP_PID" VmHWM)
stop "$TAP_PID"
GOAL3A=$(awk -v kb="$BIG_KB" -v b="$BIG" 'BEGIN { printf "%.2f", kb * 1024 / b }')
printf 'body %.1f MB: 3 sent one after another, each answered in %.0f ms (p50); tap peak RSS %s MB (idle %s MB) = %sx the body\n' \
  "$(awk -v b="$BIG" 'BEGIN { print b / 1e6 }')" "$(awk -v u="$(field "$result" p50_us)" 'BEGIN { print u / 1000 }')" \
  "$(mb "$BIG_KB")" "$(mb "$IDLE_KB")" "$GOAL3A"
rm -f "$WORK/big.out"

echo
echo "== goal 3b: a stalled stdout consumer: memory stays flat, the emitter catches up"
mkfifo "$WORK/slow.fifo"
# The consumer opens the pipe at once but reads nothing for $STALL s, then drains it.
( sleep "$STALL"; date +%s.%N > "$WORK/slow.resumed"; exec cat > "$WORK/slow.out" ) < "$WORK/slow.fifo" &
CONSUMER=$!; PIDS+=("$CONSUMER")
start_tap slow "$WORK/slow.fifo"
LOAD_SECONDS=$(awk -v s="$STALL" 'BEGIN { print s - 3 }')
"${LOADGEN_ON[@]}" "$LOADGEN" "$TAP_URL" "$WORK/payload.json" --connections "$CONNECTIONS" --warmup 0 --duration "$LOAD_SECONDS" > "$WORK/slow.load" &
LOADER=$!
samples=()
while kill -0 "$LOADER" 2>/dev/null; do
  samples+=("$(status_kb "$TAP_PID" VmRSS)")
  sleep 0.5
done
wait "$LOADER"
result=$(cat "$WORK/slow.load")
accepted=$(( $(field "$result" requests) - $(field "$result" errors) ))
FIRST_KB=${samples[1]:-${samples[0]}}; LAST_KB=${samples[-1]}
PEAK_KB=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
# The consumer starts reading at $STALL s; wait until every accepted webhook is on its stdout.
emitted=0
for _ in $(seq 1200); do
  emitted=$(grep -c '"type":"RECORD"' "$WORK/slow.out" 2>/dev/null || true); emitted=${emitted:-0}
  [ "${emitted:-0}" -ge "$accepted" ] && break
  sleep 0.1
done
drain_end=$(date +%s.%N)
STALL_HWM=$(status_kb "$TAP_PID" VmHWM)
stop "$TAP_PID"; wait "$CONSUMER" 2>/dev/null || true
echo "while the consumer stalled: $accepted webhooks accepted ($(field "$result" rps) req/s, p99 $(awk -v u="$(field "$result" p99_us)" 'BEGIN { print u / 1000 }') ms, errors $(field "$result" errors))"
echo "tap RSS during the stall: $(mb "$FIRST_KB") MB after 1 s, $(mb "$LAST_KB") MB at the end, $(mb "$PEAK_KB") MB at most (${#samples[@]} samples); peak RSS over the run $(mb "$STALL_HWM") MB"
echo "after the consumer resumed: $emitted RECORDs on stdout (expected $accepted) $(awk -v a="$(cat "$WORK/slow.resumed")" -v b="$drain_end" 'BEGIN { printf "%.1f", b - a }') s after it resumed reading"
GOAL3B=$(ratio "$LAST_KB" "$FIRST_KB")

# ---------------------------------------------------------------------------------------------
GOAL4=""
if [ "$REPLAY" = 1 ]; then
  echo
  echo "== goal 4: replay >= 0.5x the NDJSON baseline (scripts/bench-replay.sh, ${REPLAY_MB} MB)"
  BENCH_MB=$REPLAY_MB BENCH_RUNS=$([ "$QUICK" = 1 ] && echo 1 || echo 3) BENCH_DIR="$WORK/replay" \
    scripts/bench-replay.sh | tee "$WORK/replay.txt"
  GOAL4=$(sed -n 's/^ratio tap\/baseline (throughput): \([0-9.]*\).*/\1/p' "$WORK/replay.txt")
fi

# ---------------------------------------------------------------------------------------------
if [ "$SCALING" = 1 ]; then
  echo
  echo "== scaling (closed loop, ${SCALE_SECONDS} s each, one run per point)"
  start_tap scale /dev/null
  start_minimal minimal-scale /dev/null
  printf '%-22s %12s %10s %10s   %12s %10s %10s   %6s\n' "" "tap req/s" "p50 ms" "p99 ms" "minimal" "p50 ms" "p99 ms" "ratio"
  point() {
    local label=$1 body=$2 connections=$3 t m
    t=$(load "$TAP_URL" "$body" --connections "$connections" --duration "$SCALE_SECONDS")
    m=$(load "$MIN_URL" "$body" --connections "$connections" --duration "$SCALE_SECONDS")
    awk -v l="$label" -v tr="$(field "$t" rps)" -v t50="$(field "$t" p50_us)" -v t99="$(field "$t" p99_us)" \
        -v mr="$(field "$m" rps)" -v m50="$(field "$m" p50_us)" -v m99="$(field "$m" p99_us)" \
        'BEGIN { printf "%-22s %12.0f %10.2f %10.2f   %12.0f %10.2f %10.2f   %6.2f\n", l, tr, t50 / 1000, t99 / 1000, mr, m50 / 1000, m99 / 1000, (mr > 0 ? tr / mr : 0) }'
  }
  for c in 1 8 32 128; do point "600 B, $c senders" "$WORK/payload.json" "$c"; done
  for size in 1000 64000 1000000; do
    "$GEN" "$size" > "$WORK/payload-$size.json"
    point "$((size / 1000)) KB, 32 senders" "$WORK/payload-$size.json" 32
  done
  echo "peak RSS: tap $(mb "$(status_kb "$TAP_PID" VmHWM)") MB, minimal $(mb "$(status_kb "$MIN_PID" VmHWM)") MB"
  stop "$TAP_PID"; stop "$MIN_PID"
fi

# ---------------------------------------------------------------------------------------------
echo
echo "== summary"
printf 'goal 1  throughput tap/minimal       %5s  (goal >= 0.80)  %.0f vs %.0f req/s\n' "$GOAL1" "$TAP_MAX" "$MIN_MAX"
printf 'goal 2  p99 tap/minimal at %s/s  %5s  (goal <= 2.00)  %.2f vs %.2f ms\n' "$RATE" "$GOAL2" \
  "$(awk -v u="$TAP_P99" 'BEGIN { print u / 1000 }')" "$(awk -v u="$MIN_P99" 'BEGIN { print u / 1000 }')"
printf 'goal 3a peak RSS / 20 MB body        %5s  (goal <  3.00)  %s MB for %.1f MB\n' "$GOAL3A" "$(mb "$BIG_KB")" "$(awk -v b="$BIG" 'BEGIN { print b / 1e6 }')"
printf 'goal 3b RSS end/start of a stall     %5s  (flat ~ 1.00)   %s -> %s MB over %s accepted; all emitted: %s\n' "$GOAL3B" \
  "$(mb "$FIRST_KB")" "$(mb "$LAST_KB")" "$accepted" "$([ "${emitted:-0}" -ge "$accepted" ] && echo yes || echo NO)"
[ -n "$GOAL4" ] && printf 'goal 4  replay tap/baseline           %5s  (goal >= 0.50)\n' "$GOAL4"
exit 0
