#!/usr/bin/env bash
# Builds the release wheel of tap-webhooks: a manylinux2014 (glibc 2.17) x86_64 wheel holding the
# stripped `tap-webhooks` binary, linked by zig so that it runs on any glibc since 2.17. The
# version is Cargo.toml's. maturin, zig and auditwheel come from .venvs/maturin, pinned by
# tests/python/maturin.txt. The wheel goes to target/wheels/; its path is printed last on stdout.
# When that wheel is newer than every source file, nothing is rebuilt.
#
#   scripts/build-wheel.sh            # build (or reuse) and check the wheel
#   pip install target/wheels/tap_webhooks-*.whl
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source scripts/venv.sh

TARGET=x86_64-unknown-linux-gnu
TAG=manylinux_2_17_x86_64
OUT="$ROOT/target/wheels"
# What the wheel is made of: a change to any of these makes it stale.
SOURCES=(src schemas Cargo.toml Cargo.lock pyproject.toml README.md LICENSE)

existing() { ls "$OUT"/tap_webhooks-*"$TAG"*.whl 2>/dev/null | head -n 1; }

setup_venv maturin
wheel="$(existing || true)"
if [ -n "$wheel" ] && [ -z "$(find "${SOURCES[@]}" -newer "$wheel" -print -quit)" ]; then
    echo "up to date: $wheel" >&2
else
    rm -f "$OUT"/tap_webhooks-*.whl
    start=$SECONDS
    # maturin runs zig as `python -m ziglang`: the venv's python must come first on PATH.
    # The profile (`wheel`: release, stripped) is pyproject.toml's.
    PATH="$VENVS/maturin/bin:$PATH" maturin build --locked --zig \
        --compatibility manylinux2014 --target "$TARGET" --out "$OUT" >&2
    echo "built in $((SECONDS - start)) s" >&2
    wheel="$(existing || true)"
    [ -n "$wheel" ] || { echo "maturin built no $TAG wheel in $OUT" >&2; exit 1; }
fi

# auditwheel reads the binary's symbol versions: the tag it reports is the oldest glibc the
# binary runs on, whatever the file name claims.
report="$("$VENVS/maturin/bin/auditwheel" show "$wheel" 2>&1)" || { echo "$report" >&2; exit 1; }
# (It wraps its lines: join them first.)
if ! tr -s ' \n' '  ' <<<"$report" | grep -q "consistent with the following platform tag: \"$TAG\""; then
    echo "$report" >&2
    echo "auditwheel does not report $TAG for $wheel" >&2
    exit 1
fi
echo "$wheel: $TAG, $(du -k "$wheel" | cut -f1) KiB" >&2
echo "$wheel"
