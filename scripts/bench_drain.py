#!/usr/bin/env python3
"""Time for a terminal to drain a 100,000-event backlog through a real server.

1. builds a terminal store holding ``--events`` pending events (``EdgeStore.record``,
   not timed), then reopens it with the terminal's commit setting (``full`` by default);
2. starts a real server (``python -m sync_server run``, SQLite) on a loopback port;
3. baseline, in this process: the same number of events in pre-serialised batches
   posted back to back over one keep-alive connection (no store, no models): what
   the server and HTTP alone allow here;
4. the drain: the real ``SyncService`` (scheduler, tick, push loop, ``mark_synced``
   with fsync) from start until the outbox is empty; then checks that the server
   holds every event exactly once.

It prints the drain time, events/s and the ratio to the baseline (these machines are
noisy; the ratio is the stable number). Target: under 60 s for 100,000 events.

    .venv/bin/python scripts/bench_drain.py [--events 100000] [--synchronous full]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.logs import configure_logging  # noqa: E402
from edge.protocol import API_PREFIX, MAX_BATCH  # noqa: E402
from edge.recognize.matcher import Matcher  # noqa: E402
from edge.store import EdgeStore, StoreConfig  # noqa: E402
from edge.sync import SyncClient, SyncConfig, SyncService  # noqa: E402
from scripts.bench_sync import ADMIN_TOKEN, make_batches, start_server  # noqa: E402

TARGET_S = 60.0


def make_backlog(path: Path, device: str, events: int, synchronous: str) -> float:
    """A store with ``events`` pending; returns the seconds it took (not part of the result)."""
    start = time.perf_counter()
    fast = StoreConfig(cooldown_s=0, synchronous="normal")
    with EdgeStore.open(path, fast, device_id=device, boot_id="bench-boot") as store:
        for n in range(events):
            store.record(f"emp-{n % 300:04d}", distance=0.41, margin=0.17)
    return time.perf_counter() - start


def register(url: str, device: str) -> str:
    response = httpx.post(
        f"{url}{API_PREFIX}/admin/terminals",
        json={"id": device},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def baseline(url: str, token: str, device: str, events: int, batch_size: int) -> float:
    bodies = [json.dumps(b).encode() for b in make_batches(device, events, batch_size)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as client:
        start = time.perf_counter()
        for body in bodies:
            client.post(f"{API_PREFIX}/events", content=body, headers=headers).raise_for_status()
        return time.perf_counter() - start


def drain(
    path: Path, device: str, url: str, token: str, args: argparse.Namespace
) -> tuple[float, int]:
    store_config = StoreConfig(cooldown_s=0, synchronous=args.synchronous)
    config = SyncConfig(server_url=url, token=token, batch_size=args.batch_size)
    with EdgeStore.open(path, store_config, device_id=device, boot_id="bench-boot") as store:
        if store.backlog().count != args.events:
            raise SystemExit(f"expected {args.events} pending events, found {store.backlog()}")
        service = SyncService(store, Matcher(), SyncClient.from_config(config), config)
        start = time.perf_counter()
        service.start()
        try:
            while store.backlog().count:
                time.sleep(0.01)
            elapsed = time.perf_counter() - start
        finally:
            service.stop()
        status = service.status()
        if status.events_synced != args.events or status.events_rejected:
            raise SystemExit(f"unexpected answers: {status.as_dict()}")
        return elapsed, status.events_synced


def stored(db_path: Path, device: str) -> tuple[int, int]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT count(*), count(DISTINCT id) FROM events WHERE device_id = ?", (device,)
        ).fetchone()
    return int(row[0]), int(row[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="backlog to drain")
    parser.add_argument("--batch-size", type=int, default=MAX_BATCH, help="events per request")
    parser.add_argument(
        "--synchronous",
        choices=("full", "normal"),
        default="full",
        help="the terminal store's commit setting (terminals use full)",
    )
    args = parser.parse_args()
    configure_logging("warning", "console")

    print(
        f"hadir terminal drain benchmark: {args.events:,} pending events, batches of "
        f"{args.batch_size}, terminal store synchronous={args.synchronous}, SQLite server, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="hadir-bench-drain-") as tmp:
        workdir = Path(tmp)
        store_path = workdir / "terminal.db"
        setup_s = make_backlog(store_path, "bench-drain", args.events, args.synchronous)
        server_db = workdir / "server.db"
        server = start_server(workdir, f"sqlite:///{server_db}", workers=1)
        try:
            raw_s = baseline(
                server.url,
                register(server.url, "bench-raw"),
                "bench-raw",
                args.events,
                args.batch_size,
            )
            drain_s, synced = drain(
                store_path, "bench-drain", server.url, register(server.url, "bench-drain"), args
            )
        finally:
            server.stop()
        rows, distinct = stored(server_db, "bench-drain")

    exact = rows == distinct == args.events == synced
    ok = exact and drain_s < TARGET_S
    print(f"backlog built in {setup_s:.1f} s (record(), not timed)")
    print(
        f"baseline  raw HTTP, pre-serialised batches  {raw_s:6.2f} s  "
        f"{args.events / raw_s:>8,.0f} ev/s"
    )
    print(
        f"drain     SyncService, store -> server      {drain_s:6.2f} s  "
        f"{args.events / drain_s:>8,.0f} ev/s  ({drain_s / raw_s:.2f}x the baseline time)"
    )
    print(
        f"server holds {rows:,} events of the terminal ({distinct:,} distinct): "
        f"{'exactly once' if exact else 'MISMATCH'} | target {TARGET_S:.0f} s: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
