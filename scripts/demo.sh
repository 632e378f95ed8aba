#!/usr/bin/env bash
# The README's first command: set up .venv, then run `hadir demo`: a real server, a
# registered terminal, people enrolled at the server, a real edge daemon on a replayed clip
# (live people walking up, a stranger, a photo held up to the camera), and the day's
# attendance read back from the server.
# Sample faces come from ../shared/faces (or HADIR_FACES_DIR); without them, from a sample
# portrait that scikit-image ships.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. scripts/_lib.sh
ensure_venv demo
exec "$VENV/bin/hadir" --log-format console --log-level warning demo "$@"
