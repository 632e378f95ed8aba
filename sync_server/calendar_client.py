"""The working calendar's calls of the admin API, for ``hadir calendar`` (calendar_cli.py).

A subclass of the shared admin client rather than methods added to it: the calls are this
command's own. Light imports only (httpx, stdlib), as every module the ``hadir`` command
loads on a terminal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sync_server.admin_client import AdminClient, read_upload

CALENDAR = "/calendar"


class CalendarClient(AdminClient):
    """``/api/v1/admin/calendar/...``; answers are the API's JSON."""

    def __enter__(self) -> CalendarClient:
        return self

    def weeks(self) -> Any:
        return self._call("GET", f"{CALENDAR}/weeks")

    def set_week(self, group: str, weekdays: str) -> Any:
        return self._call(
            "PUT", f"{CALENDAR}/weeks/{quote(group, safe='')}", json={"weekdays": weekdays}
        )

    def unset_week(self, group: str) -> Any:
        return self._call("DELETE", f"{CALENDAR}/weeks/{quote(group, safe='')}")

    def days_off(self, year: int | None = None) -> Any:
        params = {"year": year} if year is not None else None
        return self._call("GET", f"{CALENDAR}/days-off", params=params)

    def add_days_off(self, day: str, name: str, *, to: str | None = None, kind: str) -> Any:
        body = {"day": day, "to": to, "kind": kind, "name": name}
        return self._call("POST", f"{CALENDAR}/days-off", json=body)

    def update_day_off(self, day: str, *, name: str | None, kind: str | None) -> Any:
        body = {k: v for k, v in (("name", name), ("kind", kind)) if v is not None}
        return self._call("PATCH", f"{CALENDAR}/days-off/{day}", json=body)

    def delete_day_off(self, day: str) -> Any:
        return self._call("DELETE", f"{CALENDAR}/days-off/{day}")

    def import_file(
        self,
        path: Path,
        *,
        dry_run: bool,
        year: int | None = None,
        kind: str = "holiday",
        file_format: str = "auto",
    ) -> Any:
        data = read_upload(path)
        params: dict[str, Any] = {"dry_run": "true" if dry_run else "false", "kind": kind}
        params["format"] = file_format
        if year is not None:
            params["year"] = year
        return self._call(
            "POST",
            f"{CALENDAR}/import",
            params=params,
            files={"file": (path.name, data, "application/octet-stream")},
        )
