#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, and every test, including the ones that pipe
# the tap into real Singer targets on a real PostgreSQL (set up by scripts/test-env.sh).
# The last line sums every test binary's result: `N passed, N failed`. The exit status is
# cargo test's.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The fuzz targets (fuzz/, outside the main build) still compile against the library.
cargo check --locked --quiet --manifest-path fuzz/Cargo.toml
source scripts/test-env.sh

results=$(mktemp)
# test-env.sh's trap stops the test PostgreSQL: keep it, and remove the results file too.
trap 'rm -f "$results"; stop_pg' EXIT
set +e
cargo test --locked "$@" | tee "$results"
status=${PIPESTATUS[0]}
set -e
# Each binary (unit, integration, doc-tests) ends with
# `test result: ok. 139 passed; 0 failed; 0 ignored; ...`.
awk '/^test result: / {
        for (i = 4; i < NF; i++) {
            if ($(i + 1) ~ /^passed;?$/) passed += $i
            if ($(i + 1) ~ /^failed;?$/) failed += $i
        }
    }
    END { printf "%d passed, %d failed\n", passed, failed }' "$results"
exit "$status"
