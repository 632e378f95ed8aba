#!/usr/bin/env python3
"""Ingest throughput of the sync server: events/s in batches of 500, SQLite and PostgreSQL.

For each database the script

1. measures a baseline in this process: the server's own ingest function
   (``sync_server.ingest.ingest_batch``) called directly, no HTTP;
2. starts a real server (``python -m sync_server run``) on a loopback port;
3. runs the load generator in a separate process: the batches are built and
   serialised before the clock starts, then ``--connections`` threads post them
   over keep-alive connections, one terminal per connection;
4. posts the same batches again (all duplicates) and checks the row count.

It prints events/s and the ratio to the in-process baseline (these machines are
noisy; the ratio is the stable number). Targets: 5,000 events/s on SQLite, 10,000
on PostgreSQL. PostgreSQL comes from --postgres-url, HADIR_TEST_POSTGRES_URL, or
scripts/pg_test_cluster.sh; each run uses a fresh database that is dropped after.

    .venv/bin/python scripts/bench_sync.py [--events 40000] [--connections 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.protocol import API_PREFIX, MAX_BATCH, EventBatch  # noqa: E402
from sync_server.db import Database, migrate, normalise_url, people  # noqa: E402
from sync_server.ingest import ingest_batch  # noqa: E402
from sync_server.process import ServerProcess  # noqa: E402
from sync_server.reports import person_days  # noqa: E402

TARGETS = {"sqlite": 5_000.0, "postgresql": 10_000.0}
ADMIN_TOKEN = secrets.token_urlsafe(24)


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7, as terminals make them (Python 3.11 has no uuid.uuid7)."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


def make_batches(device_id: str, events: int, size: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    batches = []
    for start in range(0, events, size):
        count = min(size, events - start)
        batches.append(
            {
                "device_id": device_id,
                "sent_wall_time": now,
                "sent_monotonic": 90_000.0,
                "boot_id": "bench-boot",
                "clock_synced": True,
                "events": [
                    {
                        "id": str(uuid7()),
                        "device_id": device_id,
                        "person_id": f"emp-{(start + n) % 300:04d}",
                        "kind": "in" if n % 2 else "out",
                        "wall_time": now,
                        "clock_synced": True,
                        "monotonic": 80_000.0 + n,
                        "boot_id": "bench-boot",
                        "distance": 0.41,
                        "margin": 0.17,
                    }
                    for n in range(count)
                ],
            }
        )
    return batches


# --- load generator (separate process) ----------------------------------------------------


def _load_generator(
    url: str,
    tokens: dict[str, str],
    events_per_terminal: int,
    batch_size: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    bodies = {
        device: [
            json.dumps(b).encode() for b in make_batches(device, events_per_terminal, batch_size)
        ]
        for device in tokens
    }
    clients = {device: httpx.Client(base_url=url, timeout=120) for device in tokens}
    # Warm the connections (and the server's code paths) with an empty batch each.
    for device, client in clients.items():
        empty = dict(make_batches(device, 1, 1)[0], events=[])
        _post(client, tokens[device], json.dumps(empty).encode())
    ready.set()
    go.wait()
    for label in ("fresh", "again"):
        statuses: dict[str, int] = {}
        lock = threading.Lock()

        def push(
            device: str, tally: dict[str, int] = statuses, guard: threading.Lock = lock
        ) -> None:
            for body in bodies[device]:
                answer = _post(clients[device], tokens[device], body)
                with guard:
                    for result in answer["results"]:
                        tally[result["status"]] = tally.get(result["status"], 0) + 1

        threads = [threading.Thread(target=push, args=(device,)) for device in tokens]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put((label, time.perf_counter() - start, statuses))
    for client in clients.values():
        client.close()


def _post(client: httpx.Client, token: str, body: bytes) -> dict[str, Any]:
    response = client.post(
        f"{API_PREFIX}/events",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


# --- server process ----------------------------------------------------------------------


def start_server(workdir: Path, database_url: str, workers: int) -> ServerProcess:
    """The measured server, started as the demo and the tests start theirs."""
    return ServerProcess(
        workdir, database_url, ADMIN_TOKEN, workers=workers, log_level="warning"
    ).start()


# --- measurements ------------------------------------------------------------------------


@dataclass
class Run:
    backend: str
    direct: float
    # The same without folding days (events of strangers): what the folded days cost.
    strangers: float
    http: float
    again: float
    stored: int


PEOPLE = 300  # the batches' people (emp-0000 ...)


def enrol_people(db: Database) -> None:
    """The batches' people, known to the server and with their days folded (as the running
    server's job leaves them), so that ingest also adds every event to its day."""
    now = datetime.now(UTC)
    with db.write() as conn:
        conn.execute(
            sa.insert(people),
            [
                {"id": f"emp-{n:04d}", "name": f"Employee {n}", "group_name": "default",
                 "created_at": now, "updated_at": now}
                for n in range(PEOPLE)
            ],
        )  # fmt: skip
    person_days.catch_up(db, ZoneInfo("Asia/Jakarta"), now=now)


def direct_rate(database_url: str, events: int, batch_size: int, *, known: bool = True) -> float:
    """The ingest code without HTTP: what the database and our SQL can do here. ``known``:
    the people are enrolled and their days folded; else strangers (nothing to fold)."""
    db = Database.from_url(database_url)
    try:
        migrate(db)
        if known:
            enrol_people(db)
        batches = [EventBatch.model_validate(b) for b in make_batches("direct", events, batch_size)]
        start = time.perf_counter()
        for batch in batches:
            ingest_batch(db, batch, datetime.now(UTC), max_future_skew_s=300)
        return events / (time.perf_counter() - start)
    finally:
        db.dispose()


def http_rate(
    database_url: str, events: int, batch_size: int, connections: int, workers: int
) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="hadir-bench-") as tmp:
        db = Database.from_url(database_url)
        try:
            migrate(db)
            enrol_people(db)
        finally:
            db.dispose()
        server = start_server(Path(tmp), database_url, workers)
        try:
            tokens = {}
            with httpx.Client(base_url=server.url, timeout=30) as admin:
                for n in range(connections):
                    device = f"bench-{n}"
                    response = admin.post(
                        f"{API_PREFIX}/admin/terminals",
                        json={"id": device},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    )
                    response.raise_for_status()
                    tokens[device] = response.json()["token"]
            ctx = mp.get_context("spawn")
            ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
            per_terminal = events // connections
            generator = ctx.Process(
                target=_load_generator,
                args=(server.url, tokens, per_terminal, batch_size, ready, go, results),
            )
            generator.start()
            if not ready.wait(300):
                raise SystemExit("load generator did not get ready")
            go.set()
            outcome = {}
            for _ in range(2):
                label, elapsed, statuses = results.get(timeout=900)
                outcome[label] = (elapsed, statuses)
            generator.join(60)
            total = per_terminal * connections
            fresh_s, fresh = outcome["fresh"]
            again_s, again = outcome["again"]
            if fresh.get("accepted") != total or again.get("duplicate") != total:
                raise SystemExit(f"unexpected answers: {fresh} then {again}")
        finally:
            server.stop()
    return total / fresh_s, total / again_s, _count(database_url)


def _count(database_url: str) -> int:
    engine = sa.create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one())
    finally:
        engine.dispose()


def postgres_base(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("HADIR_TEST_POSTGRES_URL"):
        return os.environ["HADIR_TEST_POSTGRES_URL"]
    script = ROOT / "scripts" / "pg_test_cluster.sh"
    try:
        out = subprocess.run([str(script)], check=True, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"PostgreSQL: not available ({exc}); skipped", file=sys.stderr)
        return None
    return out.stdout.strip().splitlines()[-1]


class FreshPostgres:
    """A new database in the cluster for one run, dropped afterwards."""

    def __init__(self, base: str) -> None:
        self.admin = sa.create_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
        self.name = f"hadir_bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        return self.admin.url.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def run_backend(backend: str, args: argparse.Namespace, pg_base: str | None) -> Run:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="hadir-bench-db-") as tmp:
            direct = direct_rate(f"sqlite:///{tmp}/direct.db", args.events, args.batch)
            strangers = direct_rate(
                f"sqlite:///{tmp}/strangers.db", args.events, args.batch, known=False
            )
            http, again, stored = http_rate(
                f"sqlite:///{tmp}/server.db",
                args.events,
                args.batch,
                args.connections,
                args.workers,
            )
    else:
        assert pg_base is not None
        with FreshPostgres(pg_base) as url:
            direct = direct_rate(url, args.events, args.batch)
        with FreshPostgres(pg_base) as url:
            strangers = direct_rate(url, args.events, args.batch, known=False)
        with FreshPostgres(pg_base) as url:
            http, again, stored = http_rate(
                url, args.events, args.batch, args.connections, args.workers
            )
    return Run(backend, direct, strangers, http, again, stored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000, help="events per run")
    parser.add_argument("--batch", type=int, default=MAX_BATCH, help="events per batch")
    parser.add_argument(
        "--connections", type=int, default=2, help="concurrent terminals posting (default 2)"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--postgres-url", default=None, help="PostgreSQL cluster to use")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    pg_base = postgres_base(args.postgres_url) if "postgresql" in backends else None
    if pg_base is None:
        backends = [b for b in backends if b != "postgresql"]

    print(
        f"hadir sync server ingest benchmark: {args.events:,} events per run, batches of "
        f"{args.batch}, {args.connections} connections, {args.workers} server process(es), "
        f"{os.cpu_count()} CPUs"
    )
    failed = False
    for backend in backends:
        run = run_backend(backend, args, pg_base)
        target = TARGETS[backend]
        ok = run.http >= target
        failed |= not ok
        print(
            f"{backend:<11} direct (in-process, no HTTP) {run.direct:>9,.0f} ev/s | "
            f"HTTP {run.http:>9,.0f} ev/s ({run.http / run.direct:.2f} of direct) | "
            f"resend, all duplicate {run.again:>9,.0f} ev/s | stored {run.stored:,} | "
            f"target {target:,.0f}: {'PASS' if ok else 'FAIL'}"
        )
        print(
            f"{'':<11} direct, strangers' events (no days to fold) {run.strangers:>9,.0f} ev/s: "
            f"folding the days costs {run.strangers / run.direct:.2f}x"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
