"""hadir edge: the wall terminal's daemon (capture, recognition, store, feedback, sync).

Also the shared core the sync server builds on (protocol, errors, config base, logs,
credentials, recognize); nothing here imports ``sync_server`` except edge/cli.py and
edge/demo.py, which compose both roles (docs/architecture.md, "Package boundary").
"""

__version__ = "0.1.0"
