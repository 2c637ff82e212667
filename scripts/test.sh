#!/usr/bin/env bash
# Runs the whole test suite. Sets up what the tests need first (see .ci/run for the system
# packages a fresh machine must install).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked "$@"
