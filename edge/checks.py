"""What a ``hadir edge doctor`` check is and what it answers.

A leaf module: the daemon's checks (edge/daemon/doctor.py) and the sync checks
(edge/sync/doctor.py) both build on it, and neither imports the other's module
for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.config import EdgeConfig


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # reported, but does not fail the doctor

    def line(self) -> str:
        mark = "ok  " if self.ok else ("warn" if self.warning else "FAIL")
        return f"[{mark}] {self.name}: {self.detail}"


Check = Callable[["EdgeConfig"], CheckResult]

__all__ = ["Check", "CheckResult"]
