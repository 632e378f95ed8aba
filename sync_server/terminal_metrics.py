"""Prometheus gauges of the terminals' health, read from the database at scrape time.

A gauge set by the heartbeat handler would live in the one process that took that
heartbeat; with several server processes behind a load balancer each would report a
different, stale picture. The heartbeats table is the one truth they share, so every
process answers the same. One series per registered, unrevoked terminal that reported
its store: the label set is bounded by the terminals an admin registered, not by
anything a client sends.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync_server.db import Database, heartbeats, terminals

log = structlog.get_logger(__name__)


class TerminalStoreCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        query = (
            sa.select(heartbeats.c.device_id, heartbeats.c.store_state, heartbeats.c.store_errors)
            .join(terminals, terminals.c.id == heartbeats.c.device_id)
            .where(terminals.c.revoked_at.is_(None), heartbeats.c.store_state.is_not(None))
            .order_by(heartbeats.c.device_id)
        )
        try:
            with self.db.read() as conn:
                rows = conn.execute(query).all()
        except sa.exc.SQLAlchemyError as exc:
            # The process's own metrics must still be scraped while the database is away.
            log.warning("terminal_metrics_unavailable", error=type(exc).__name__)
            return
        ok = GaugeMetricFamily(
            "hadir_terminal_store_ok",
            "1 when the terminal's latest heartbeat says its last store write succeeded, "
            "0 when it failed (the terminal cannot save attendance).",
            labels=["device_id"],
        )
        errors = GaugeMetricFamily(
            "hadir_terminal_store_errors",
            "Failed store writes the terminal reported in its latest heartbeat "
            "(since its daemon started).",
            labels=["device_id"],
        )
        for device_id, state, count in rows:
            ok.add_metric([device_id], 1.0 if state == "ok" else 0.0)
            errors.add_metric([device_id], float(count or 0))
        yield ok
        yield errors


def terminal_metrics(db: Database) -> bytes:
    """The gauges above in the Prometheus text format, to append to a process's own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TerminalStoreCollector(db))
    return generate_latest(registry)
