"""``[store]`` section of the terminal's config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config_base import StrictModel


class StoreConfig(StrictModel):
    """The terminal's SQLite database: event log, outbox and enrolment mirror."""

    path: Path = Field(
        Path("hadir-edge.sqlite3"),
        description="Database file; a relative path is taken from the data directory.",
    )
    cooldown_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="A person seen again on the same terminal within this many seconds "
        "(monotonic clock) is 'already recorded', not a new event; 0 disables the cooldown.",
    )
    kind_mode: Literal["in", "out", "auto"] = Field(
        "auto",
        description="Kind of the events of this terminal: always in, always out, or auto "
        "(a person's first event of the local day is in, later ones are out).",
    )
    retention_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Events the server has accepted are pruned after this many days; "
        "events not yet accepted are never pruned.",
    )
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="full: every commit is fsynced before it returns, so a beep means the "
        "event survives a power cut. normal: about 10x faster commits, but the last events "
        "can be lost on power loss (not on a crash). Keep full on terminals.",
    )
    busy_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="How long a write waits for another connection's write to finish before "
        "failing with StoreBusyError.",
    )
    exit_after_failing_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="When every write to the store has failed for this long (the daemon "
        "retries one small write every 10 s while failing), the daemon exits with code 4 so "
        "systemd restarts it; 0: never exit for this. It also exits 4 after SIGTERM when its "
        "last write failed.",
    )

    def resolve_path(self, data_dir: Path) -> Path:
        """The database file, with a relative :attr:`path` taken from ``data_dir``."""
        return self.path if self.path.is_absolute() else data_dir / self.path
