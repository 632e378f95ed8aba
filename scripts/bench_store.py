#!/usr/bin/env python3
"""Edge store: event commit rate and latency, and enrolment mirror load time.

Every figure comes with a baseline measured in the same process, because these
machines are noisy:

* ``record()`` with ``synchronous=full`` (the default: fsync per event) against
  ``synchronous=normal``, and against a bare sqlite3 INSERT+COMMIT with FULL,
  the floor any store on this disk can reach;
* ``load_gallery()`` of a 100,000-template mirror against building the same
  Gallery from arrays already in memory (``np.stack`` + ``Gallery.from_rows``).

Targets on the reference machine: p99 commit under 20 ms with full;
100,000 templates loaded in under 1 s.

    .venv/bin/python scripts/bench_store.py [--events 3000] [--templates 100000] [--dir PATH]

``--dir`` puts the database on the disk to measure (on a terminal: the SD card
or SSD holding the data directory); the default is a temporary directory.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.logs import configure_logging
from edge.protocol import EnrolmentPage, PersonUpsert, encode_template
from edge.recognize.matcher import Gallery
from edge.store import EdgeStore, StoreConfig

P99_TARGET_MS = 20.0
LOAD_TARGET_S = 1.0
TEMPLATES_PER_PERSON = 2
PAGE_PEOPLE = 1000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_record(directory: Path, synchronous: str, events: int) -> list[float]:
    """Per-commit latency (ms) of record(), each for a different person."""
    config = StoreConfig(synchronous=synchronous, cooldown_s=0)
    path = directory / f"record-{synchronous}.sqlite3"
    samples: list[float] = []
    with EdgeStore.open(path, config, device_id="bench", clock_synced=lambda: True) as store:
        for i in range(50):  # warm: file creation, first WAL frames, statement cache
            store.record(f"warm-{i}", distance=0.4, margin=0.1)
        for i in range(events):
            start = time.perf_counter()
            store.record(f"p-{i % 1000:04d}", distance=0.4, margin=0.1)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_raw_sqlite(directory: Path, events: int) -> list[float]:
    """Bare sqlite3 INSERT + COMMIT, WAL, synchronous=FULL: the disk's floor."""
    conn = sqlite3.connect(directory / "raw.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, person TEXT, at TEXT)")
    samples: list[float] = []
    for i in range(events + 50):
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", (f"id-{i}", f"p-{i % 1000}", "now"))
        conn.execute("COMMIT")
        if i >= 50:
            samples.append((time.perf_counter() - start) * 1000)
    conn.close()
    return samples


def report_commits(label: str, samples: list[float]) -> tuple[float, float, float]:
    rate = len(samples) / (sum(samples) / 1000)
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    print(
        f"  {label:<22} {rate:>9,.0f}/s  p50 {p50:>7.3f} ms  p99 {p99:>7.3f} ms  "
        f"max {max(samples):>7.2f} ms"
    )
    return rate, p50, p99


def pages(templates: np.ndarray) -> Iterator[EnrolmentPage]:
    people = len(templates) // TEMPLATES_PER_PERSON
    encoded = [encode_template(t) for t in templates]
    version = 0
    for first in range(0, people, PAGE_PEOPLE):
        changes = []
        since = version
        for person in range(first, min(first + PAGE_PEOPLE, people)):
            version += 1
            rows = encoded[person * TEMPLATES_PER_PERSON : (person + 1) * TEMPLATES_PER_PERSON]
            changes.append(
                PersonUpsert(
                    version=version,
                    person_id=f"person-{person:06d}",
                    name=f"Person {person}",
                    templates=rows,
                )
            )
        yield EnrolmentPage(since=since, version=version, more=True, changes=changes)


def bench_gallery(directory: Path, count: int) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    templates = (rng.normal(size=(count, 128)) * 0.07).astype(np.float32)
    path = directory / "mirror.sqlite3"
    built = list(pages(templates))
    page_s: list[float] = []
    with EdgeStore.open(path, device_id="bench") as store:
        for page in built:
            start = time.perf_counter()
            store.apply_enrolment(page)
            page_s.append(time.perf_counter() - start)
    print(
        f"  mirror filled in {sum(page_s):.2f} s: {len(built)} apply_enrolment() pages of "
        f"{PAGE_PEOPLE} people, slowest {max(page_s) * 1000:.0f} ms"
    )

    load_samples: list[float] = []
    fetch_samples: list[float] = []
    gallery = Gallery.empty()
    for _ in range(3):
        # Reopen each time: the daemon loads the mirror once, right after opening.
        with EdgeStore.open(path, device_id="bench") as store:
            start = time.perf_counter()
            gallery = store.load_gallery()
            load_samples.append(time.perf_counter() - start)
        conn = sqlite3.connect(path)
        start = time.perf_counter()
        conn.execute("SELECT person_id, vector FROM templates").fetchall()
        fetch_samples.append(time.perf_counter() - start)
        conn.close()
    assert len(gallery) == count

    rows = list(templates)
    owners = [f"person-{i // TEMPLATES_PER_PERSON:06d}" for i in range(count)]
    base_samples: list[float] = []
    for _ in range(3):
        start = time.perf_counter()
        Gallery.from_rows(owners, np.stack(rows))
        base_samples.append(time.perf_counter() - start)

    load_s = statistics.median(load_samples)
    base_s = statistics.median(base_samples)
    print(f"  load_gallery()          {load_s * 1000:>8.1f} ms  (median of 3, fresh open)")
    print(f"    of which SQL fetch    {statistics.median(fetch_samples) * 1000:>8.1f} ms")
    print(f"  baseline np.stack+Gallery {base_s * 1000:>6.1f} ms  (same rows, in memory)")
    print(f"  ratio load/baseline     {load_s / base_s:>8.2f}x")
    return load_s, base_s


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=3000, help="commits per mode")
    parser.add_argument("--templates", type=int, default=100_000, help="mirror size")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args()
    configure_logging(level="warning", stream=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.dir) as tmp:
        directory = Path(tmp)
        print(f"database directory: {directory}  (sqlite {sqlite3.sqlite_version})")
        print(f"event commits, {args.events:,} each, one person per commit:")
        full = report_commits("record() full", bench_record(directory, "full", args.events))
        normal = report_commits("record() normal", bench_record(directory, "normal", args.events))
        raw = report_commits("bare sqlite3 FULL", bench_raw_sqlite(directory, args.events))
        print(
            f"  full vs normal: {normal[0] / full[0]:.1f}x fewer commits/s, "
            f"p50 {full[1] / normal[1]:.1f}x, p99 {full[2] / normal[2]:.1f}x"
        )
        print(f"  full vs bare sqlite3 FULL: p50 {full[1] / raw[1]:.2f}x (store overhead)")
        print(f"gallery load, {args.templates:,} templates ({TEMPLATES_PER_PERSON} per person):")
        load_s, _ = bench_gallery(directory, args.templates)

    p99_ok = full[2] < P99_TARGET_MS
    load_ok = load_s < LOAD_TARGET_S
    print("targets:")
    print(f"  p99 commit (full) < {P99_TARGET_MS:g} ms: {full[2]:.2f} ms  {_verdict(p99_ok)}")
    print(
        f"  {args.templates:,} templates loaded < {LOAD_TARGET_S:g} s: {load_s:.3f} s  "
        f"{_verdict(load_ok)}"
    )
    return 0 if p99_ok and load_ok else 1


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


if __name__ == "__main__":
    raise SystemExit(main())
