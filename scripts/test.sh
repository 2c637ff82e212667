#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, and every test, including the ones that pipe
# the tap into real Singer targets on a real PostgreSQL (set up by scripts/test-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
source scripts/test-env.sh
cargo test --locked "$@"
