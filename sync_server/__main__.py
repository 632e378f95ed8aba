"""``python -m sync_server run --config FILE``: the server without the rest of the hadir CLI."""

import sys

from sync_server.cli import main

sys.exit(main())
