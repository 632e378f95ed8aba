"""The outbound HRMS client: events as ERPNext / Frappe HRMS "Employee Checkin" records, and
the push that posts them."""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.engine import Connection

from sync_server.config import HrmsConfig
from sync_server.reports.export import added_punches, events_query, local_text, voided_events
from sync_server.reports.timebase import calendar_range


@dataclass(frozen=True, slots=True)
class Checkin:
    """One Frappe HRMS ``Employee Checkin``: the fields as the resource API takes them."""

    employee: str
    time: str  # site-local "YYYY-MM-DD HH:MM:SS", as Frappe stores Datetime
    log_type: str  # "IN" or "OUT"
    device_id: str
    # A punch an admin added (a correction), not a terminal's: Employee Checkin has no field
    # for it, so the payload says it in device_id (CORRECTION_DEVICE); listings show this flag.
    corrected: bool = False

    def as_json(self) -> dict[str, str]:
        return {
            "employee": self.employee,
            "time": self.time,
            "log_type": self.log_type,
            "device_id": self.device_id,
        }


# device_id of an added punch in HRMS: no terminal recorded it (docs/reports.md, "HRMS").
CORRECTION_DEVICE = "hadir-correction"


def hrms_checkins(
    conn: Connection,
    first_day: date,
    last_day: date,
    *,
    tz: ZoneInfo,
    group: str | None = None,
    department: str | None = None,
) -> list[Checkin]:
    """Every event of a known person in the calendar days ``first_day..last_day`` (site zone),
    oldest first. Frappe assigns shifts and computes attendance from checkins itself, so it gets
    every punch, not our first-in/last-out; events of deleted people have no employee.

    Corrections (docs/corrections.md): a voided event is left out; a punch an admin added is
    a checkin with ``device_id`` :data:`CORRECTION_DEVICE`. A push is not tracked here: an
    event voided after it was pushed stays in HRMS (a later push does not send it again, and
    nothing deletes it there); docs/reports.md says what to do."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day")
    lo, hi, offsets = calendar_range(tz, first_day, last_day)
    voided = voided_events(conn, lo, hi)
    found: list[tuple[int, Checkin]] = [
        (
            int(r.effective_us),
            Checkin(
                employee=r.employee_id,
                time=local_text(offsets.local(int(r.effective_us))),
                log_type="IN" if r.kind == "in" else "OUT",
                device_id=r.device_id,
            ),
        )
        for r in conn.execute(events_query(lo, hi, group, department, known_only=True))
        if str(r.id) not in voided
    ]
    added = [
        (
            int(r.effective_us),
            Checkin(
                employee=r.employee_id,
                time=local_text(offsets.local(int(r.effective_us))),
                log_type="IN" if r.kind == "in" else "OUT",
                device_id=CORRECTION_DEVICE,
                corrected=True,
            ),
        )
        for r in added_punches(conn, lo, hi, group, department, known_only=True)
    ]
    if added:
        # Stable: an added punch at the same microsecond as an event goes after it.
        found = sorted(found + added, key=lambda pair: pair[0])
    return [checkin for _, checkin in found]


class PushOutcome(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(slots=True)
class PushFailure:
    checkin: Checkin
    status: int | None
    detail: str


@dataclass(slots=True)
class PushResult:
    total: int = 0
    created: int = 0
    duplicates: int = 0
    attempts: int = 0
    failed: list[PushFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


CHECKIN_RESOURCE = "/api/resource/Employee%20Checkin"
# What Frappe says when the record is already there: a unique-name clash
# (frappe.DuplicateEntryError, HTTP 409) or HRMS's own check of employee + time + log type
# (a ValidationError, HTTP 417: "This employee already has a log with the same timestamp").
_DUPLICATE_MARKERS = (
    "duplicateentryerror",
    "already exists",
    "already has a log with the same timestamp",
)


def _is_duplicate(response: httpx.Response) -> bool:
    if response.status_code == 409:
        return True
    if response.status_code < 400:
        return False
    text = response.text.lower()
    return any(marker in text for marker in _DUPLICATE_MARKERS)


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


async def push_checkins(
    checkins: Sequence[Checkin],
    config: HrmsConfig,
    api_secret: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PushResult:
    """POST each checkin to ``{url}/api/resource/Employee Checkin`` (Frappe token auth).

    Created and "already exists" both count as done, so a push can be repeated over the same
    range safely. Network errors, 429 and 5xx are retried up to ``max_attempts`` times per
    checkin with doubling backoff (and jitter); any other refusal is reported at once.
    """
    if not config.url or not config.api_key:
        raise ValueError("hrms.url and hrms.api_key must be configured")
    result = PushResult(total=len(checkins))
    headers = {
        "Authorization": f"token {config.api_key}:{api_secret}",
        "Accept": "application/json",
    }
    limit = asyncio.Semaphore(config.concurrency)

    async def send(
        client: httpx.AsyncClient, checkin: Checkin
    ) -> tuple[PushOutcome, int | None, str]:
        async with limit:
            try:
                response = await client.post(CHECKIN_RESOURCE, json=checkin.as_json())
            except httpx.HTTPError as exc:
                return PushOutcome.FAILED, None, f"{type(exc).__name__}: {exc}"
        if response.is_success:
            return PushOutcome.CREATED, response.status_code, ""
        if _is_duplicate(response):
            return PushOutcome.DUPLICATE, response.status_code, ""
        return PushOutcome.FAILED, response.status_code, response.text[:300]

    pending = list(checkins)
    async with httpx.AsyncClient(
        base_url=config.url.rstrip("/"),
        headers=headers,
        timeout=config.timeout_s,
        transport=transport,
    ) as client:
        for attempt in range(1, config.max_attempts + 1):
            if attempt > 1:
                delay = config.backoff_s * 2 ** (attempt - 2)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            result.attempts = attempt
            answers = await asyncio.gather(*(send(client, c) for c in pending))
            retry: list[Checkin] = []
            for checkin, (outcome, status, detail) in zip(pending, answers, strict=True):
                if outcome is PushOutcome.CREATED:
                    result.created += 1
                elif outcome is PushOutcome.DUPLICATE:
                    result.duplicates += 1
                elif _retryable(status) and attempt < config.max_attempts:
                    retry.append(checkin)
                else:
                    result.failed.append(PushFailure(checkin, status, detail))
            pending = retry
            if not pending:
                break
    return result
