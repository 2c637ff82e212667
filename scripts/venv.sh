# Sourced by scripts/test-env.sh and scripts/build-wheel.sh: `setup_venv NAME` makes .venvs/NAME
# hold exactly what tests/python/NAME.txt pins, rebuilding it only when that file changed.

VENVS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venvs"

setup_venv() {
    local name="$1" req dir
    req="$(dirname "$VENVS")/tests/python/$1.txt"
    dir="$VENVS/$name"
    if ! cmp -s "$req" "$dir/.requirements" 2>/dev/null; then
        echo "setting up $dir" >&2
        rm -rf "$dir"
        python3 -m venv "$dir" || { echo "python3 -m venv failed: install python3 with venv" >&2; return 1; }
        "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" || return 1
        cp "$req" "$dir/.requirements"
    fi
}
