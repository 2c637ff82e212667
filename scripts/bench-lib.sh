# Shared by the benchmark scripts: source it, do not run it.

# wait_for_line FILE PATTERN: waits (up to 30 s) for a line of FILE matching PATTERN and
# prints the match; exits with the file's text if none comes.
wait_for_line() {
  local file=$1 pattern=$2
  for _ in $(seq 300); do
    if grep -q -E "$pattern" "$file" 2>/dev/null; then grep -m1 -o -E "$pattern" "$file"; return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for /$pattern/ in $file:" >&2; cat "$file" >&2; exit 1
}

# BENCH_SERVER_CPUS and BENCH_LOADGEN_CPUS (taskset CPU lists, e.g. "0-1" and "2-3"; unset: any
# CPU) pin the servers and the load generator. On a machine with cores to spare, a load
# generator on cores of its own no longer takes CPU from the servers it measures; on a small
# one, both pinned to different cores show the servers' CPU costs alone.
SERVER_ON=()
LOADGEN_ON=()
if [ -n "${BENCH_SERVER_CPUS:-}" ]; then SERVER_ON=(taskset -c "$BENCH_SERVER_CPUS"); fi
if [ -n "${BENCH_LOADGEN_CPUS:-}" ]; then LOADGEN_ON=(taskset -c "$BENCH_LOADGEN_CPUS"); fi
