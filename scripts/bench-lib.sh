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
