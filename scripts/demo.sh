#!/usr/bin/env bash
# The README's first command: set up .venv, then identify every face in the shared
# sample scenes against a gallery built from the sample people's photos.
# Faces come from ../shared/faces (or HADIR_FACES_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv server

FACES="${HADIR_FACES_DIR:-../shared/faces}"
if [ ! -d "$FACES/people" ]; then
    echo "demo: sample faces not found at $FACES (set HADIR_FACES_DIR)" >&2
    exit 2
fi
exec "$VENV/bin/hadir" --log-format console identify --gallery "$FACES/people" "$FACES/scenes" "$@"
