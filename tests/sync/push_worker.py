"""Child process of the terminal crash test: a terminal that only syncs.

Opens the store, runs the real sync service (scheduler and all) until the outbox
is empty, then prints one JSON line with its counters and exits 0. The test
SIGKILLs it at chosen moments and starts it again. The token comes in a file,
as on a terminal, never on the command line.

    python -m tests.sync.push_worker STORE_PATH DEVICE_ID SERVER_URL TOKEN_FILE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from edge.backoff import BackoffConfig
from edge.logs import configure_logging
from edge.recognize.matcher import Matcher
from edge.store import EdgeStore, StoreConfig
from edge.sync import SyncClient, SyncConfig, SyncService


def main(store_path: str, device_id: str, url: str, token_file: str) -> int:
    configure_logging(stream=sys.stderr)  # stdout carries only the result
    config = SyncConfig(
        server_url=url,
        token_file=Path(token_file),
        push_interval_s=0.1,
        pull_interval_s=60,
        heartbeat_interval_s=60,
        tick_s=0.05,
        batch_size=200,
        timeout_s=10,
        backoff=BackoffConfig(initial_delay=0.05, max_delay=0.5),
    )
    store_config = StoreConfig(cooldown_s=0)
    with EdgeStore.open(store_path, store_config, device_id=device_id, boot_id="worker") as store:
        service = SyncService(store, Matcher(), SyncClient.from_config(config, environ={}), config)
        print("ready", flush=True)
        service.start()
        try:
            while store.backlog().count:
                time.sleep(0.02)
        finally:
            service.stop()
        status = service.status()
    print(
        json.dumps(
            {
                "synced": status.events_synced,
                "duplicate": status.events_duplicate,
                "rejected": status.events_rejected,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
