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
# One worker per core (HADIR_TEST_WORKERS overrides; 0 runs in this process). Whole files go
# to one worker: their module fixtures (an enrolled gallery, a browser) are built once.
"$VENV/bin/pytest" -n "${HADIR_TEST_WORKERS:-auto}" --dist loadfile "$@"
