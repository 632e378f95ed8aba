#!/usr/bin/env bash
# Set up (or refresh) the project's virtualenv and run every check CI runs:
# ruff, mypy and the whole pytest suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_lib.sh
ensure_venv dev

echo "== ruff"
"$VENV/bin/ruff" check edge sync_server scripts tests
echo "== mypy"
"$VENV/bin/mypy"
echo "== pytest"
"$VENV/bin/pytest" "$@"
