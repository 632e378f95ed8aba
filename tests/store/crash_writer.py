"""Child process of the crash test: record events as fast as possible.

Prints ``ready`` once the store is open, then each event id on its own line,
flushed, only after :meth:`EdgeStore.record` returned (the commit is done).
Runs until killed.

    python tests/store/crash_writer.py DB_PATH
"""

from __future__ import annotations

import itertools
import sys

from edge.logs import configure_logging
from edge.store import EdgeStore, StoreConfig


def main(path: str) -> None:
    configure_logging(stream=sys.stderr)  # stdout carries only the ids
    config = StoreConfig(cooldown_s=0)
    with EdgeStore.open(path, config, device_id="crash-test", boot_id="crash-boot") as store:
        print("ready", flush=True)
        for i in itertools.count():
            result = store.record(f"person-{i % 97}", distance=0.4, margin=0.1)
            print(result.event.id, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
