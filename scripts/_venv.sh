# shellcheck shell=bash
# Sourced by the scripts: create .venv with the project installed, once.
VENV="${HADIR_VENV:-.venv}"

ensure_venv() {
    local extras="${1:-}"
    local spec="."
    if [ -n "$extras" ]; then spec=".[${extras}]"; fi
    local stamp="$VENV/.hadir-installed-${extras:-base}"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "== creating $VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --upgrade pip
    fi
    # Reinstall when pyproject.toml changed since the last install.
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "== installing hadir ($spec) into $VENV"
        "$VENV/bin/pip" install --quiet --upgrade setuptools
        "$VENV/bin/pip" install --quiet -e "$spec"
        touch "$stamp"
    fi
}
