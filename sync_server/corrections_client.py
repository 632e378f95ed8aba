"""The corrections' and audit trail's calls of the admin API, for ``hadir correction`` and
``hadir audit`` (corrections_cli.py).

A subclass of the shared admin client: the calls are these commands' own. Light imports only
(httpx, stdlib), as every module the ``hadir`` command loads on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sync_server.admin_client import AdminClient, download

# The most rows one list call asks for; longer lists are read page by page (before_id).
PAGE = 1000


def _params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class CorrectionsClient(AdminClient):
    """``/api/v1/admin/corrections`` and ``/api/v1/admin/audit``; answers are the API's JSON."""

    def __enter__(self) -> CorrectionsClient:
        return self

    def add(self, person_id: str, day: str, time: str, kind: str, reason: str) -> Any:
        body = {
            "action": "add",
            "person_id": person_id,
            "day": day,
            "time": time,
            "kind": kind,
            "reason": reason,
        }
        return self._call("POST", "/corrections", json=body)

    def void(self, event_id: str, reason: str, person_id: str | None = None) -> Any:
        body = _params(
            {"action": "void", "event_id": event_id, "reason": reason, "person_id": person_id}
        )
        return self._call("POST", "/corrections", json=body)

    def revoke(self, correction_id: int, reason: str) -> Any:
        return self._call("POST", f"/corrections/{correction_id}/revoke", json={"reason": reason})

    def _pages(self, path: str, key: str, params: Mapping[str, Any], most: int | None) -> Any:
        """Every row of a newest-first list (at most ``most``), following next_before_id."""
        found: list[Any] = []
        before_id = None
        while most is None or len(found) < most:
            size = PAGE if most is None else min(PAGE, most - len(found))
            page = self._call(
                "GET", path, params=_params({**params, "limit": size, "before_id": before_id})
            )
            found += page[key]
            before_id = page["next_before_id"]
            if before_id is None:
                break
        return found

    def corrections(self, **filters: Any) -> list[Any]:
        """Corrections, newest first: ``person``, ``from``, ``to`` (calendar days)."""
        found: list[Any] = self._pages("/corrections", "corrections", filters, None)
        return found

    def audit(self, most: int | None, **filters: Any) -> list[Any]:
        """Audit rows, newest first: ``entity``, ``entity_id``, ``actor``, ``from``, ``to``."""
        found: list[Any] = self._pages("/audit", "entries", filters, most)
        return found

    def audit_csv(self, **filters: Any) -> Iterator[bytes]:
        """The audit CSV as the server streams it."""
        yield from download(self._client, "/audit.csv", _params(filters), "audit export")
