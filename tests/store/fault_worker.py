"""Child process of the fault tests: drive the store into a full disk or a read-only file.

Prints one JSON line with what happened; the test asserts on it. Run as::

    python tests/store/fault_worker.py fill DB_PATH (fsize|ballast)
    python tests/store/fault_worker.py make DB_PATH (close|crash)
    python tests/store/fault_worker.py readonly DB_PATH
    python tests/store/fault_worker.py probe DB_PATH
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from edge.logs import configure_logging
from edge.protocol import EnrolmentPage, PersonUpsert, encode_template
from edge.store import EdgeStore, StoreConfig, StoreError, StoreReadOnlyError

CONFIG = StoreConfig(cooldown_s=0)
BALLAST = "ballast.bin"


def big_page(since: int, people: int) -> EnrolmentPage:
    rng = np.random.default_rng(since)
    changes = [
        PersonUpsert(
            version=since + i + 1,
            person_id=f"bulk-{since}-{i}",
            name=f"Bulk {i}",
            templates=[encode_template(rng.normal(size=128) * 0.07) for _ in range(4)],
        )
        for i in range(people)
    ]
    return EnrolmentPage(since=since, version=since + people, more=False, changes=changes)


def _sizes(path: Path) -> int:
    return max(
        (
            Path(f"{path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{path}{suffix}").exists()
        ),
        default=0,
    )


def fill(path: Path, how: str) -> dict[str, Any]:
    report: dict[str, Any] = {}
    store = EdgeStore.open(path, CONFIG, device_id="fault-test")
    recorded = 0
    for i in range(20):
        store.record(f"warm-{i}", distance=0.4, margin=0.1)
        recorded += 1
    store.apply_enrolment(big_page(0, 2))
    if how == "fsize":
        # Without this, exceeding the limit kills the process instead of failing write().
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = _sizes(path) + (128 << 10)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    else:
        # Freed later to show the store recovers once space comes back.
        (path.parent / BALLAST).write_bytes(b"\1" * (512 << 10))

    error: BaseException | None = None
    for i in range(200_000):
        try:
            store.record(f"person-{i % 50}", distance=0.4, margin=0.1)
        except StoreError as exc:
            error = exc
            break
        recorded += 1
    report["record_error"] = type(error).__name__
    report["record_error_message"] = str(error)
    report["record_error_is_oserror"] = isinstance(error, OSError)
    report["recorded_before_full"] = recorded
    report["health_when_full"] = _health(store)

    try:
        store.apply_enrolment(big_page(2, 300))
        report["page_error"] = None
    except StoreError as exc:
        report["page_error"] = type(exc).__name__
    report["version_after_failed_page"] = store.enrolment_version()
    report["people_after_failed_page"] = len(store.people())
    report["events_in_db"] = store.stats().events
    report["integrity"] = store.integrity_check()

    # Space comes back: the same store, in the same process, carries on.
    if how == "fsize":
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    else:
        (path.parent / BALLAST).unlink()
    report["health_before_recovery"] = _health(store)
    report["after_recovery"] = store.record("after", distance=0.4, margin=0.1).outcome.value
    report["health_after_recovery"] = _health(store)
    store.apply_enrolment(big_page(2, 20))
    report["version_after_recovery"] = store.enrolment_version()
    report["events_after_recovery"] = store.stats().events
    report["integrity_after_recovery"] = store.integrity_check()
    store.close()
    return report


def _health(store: EdgeStore) -> dict[str, Any]:
    health = store.health()
    return {
        "state": health.state,
        "errors": health.errors,
        "consecutive_errors": health.consecutive_errors,
        "last_error": health.last_error,
    }


def probe(path: Path) -> dict[str, Any]:
    """A store that cannot grow any file: ``probe_write`` fails, then succeeds once it can."""
    report: dict[str, Any] = {}
    store = EdgeStore.open(path, CONFIG, device_id="fault-test")
    store.record("before", distance=0.4, margin=0.1)
    # An empty WAL, and no file may grow past 1 byte: the next commit cannot be written.
    store.checkpoint("truncate")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
    report["health_before"] = _health(store)
    errors: list[str | None] = []
    for attempt in (store.probe_write, lambda: store.record("x", distance=0.4, margin=0.1)):
        try:
            attempt()
            errors.append(None)
        except StoreError as exc:
            errors.append(type(exc).__name__)
    report["errors"] = errors
    report["health_failing"] = _health(store)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    store.probe_write()
    report["health_after_probe"] = _health(store)
    report["probe_cursor"] = store.get_cursor("store_probe") is not None
    report["events"] = store.stats().events
    store.close()
    return report


def make(path: Path, how: str) -> dict[str, Any]:
    store = EdgeStore.open(path, CONFIG, device_id="fault-test")
    for i in range(3):
        store.record(f"person-{i}", distance=0.4, margin=0.1)
    if how == "crash":
        sys.stdout.write(json.dumps({"made": True}) + "\n")
        sys.stdout.flush()
        os._exit(0)  # leaves the WAL and its index behind, like a power cut
    store.close()
    return {"made": True}


def readonly(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"open_error": None, "record_error": None}
    try:
        store = EdgeStore.open(path, CONFIG, device_id="fault-test")
    except StoreError as exc:
        report["open_error"] = type(exc).__name__
        report["open_error_message"] = str(exc)
        report["is_permission_error"] = isinstance(exc, PermissionError)
        # What the doctor and an operator can still do: read it.
        try:
            with EdgeStore.open(path, CONFIG, device_id="fault-test", read_only=True) as reader:
                report["pending_read_only"] = len(reader.pending())
        except StoreError as exc2:
            report["read_only_error"] = f"{type(exc2).__name__}: {exc2}"
        return report
    try:
        store.record("late", distance=0.4, margin=0.1)
    except StoreReadOnlyError as exc:
        report["record_error"] = type(exc).__name__
        report["record_error_message"] = str(exc)
        report["is_permission_error"] = isinstance(exc, PermissionError)
    report["pending"] = len(store.pending())
    store.close()
    return report


def main() -> None:
    configure_logging(stream=sys.stderr)  # stdout carries only the JSON report
    mode, path, *rest = sys.argv[1:]
    handler = {
        "fill": fill,
        "make": make,
        "readonly": lambda p, *_: readonly(p),
        "probe": lambda p, *_: probe(p),
    }[mode]
    report = handler(Path(path), *rest)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
