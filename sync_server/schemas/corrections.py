"""Request and answer models of corrections (an added punch, a voided event) and of the audit
trail (docs/corrections.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from edge.protocol import PersonId
from sync_server.schemas import ApiModel

REASON_MIN = 3
REASON_MAX = 500

Reason = Annotated[
    str,
    Field(
        min_length=REASON_MIN,
        max_length=REASON_MAX,
        description=f"Why, for whoever reads the audit trail: {REASON_MIN}-{REASON_MAX} "
        "characters (spaces around it do not count).",
    ),
]


class _ReasonModel(ApiModel):
    @field_validator("reason", mode="before", check_fields=False)
    @classmethod
    def _strip(cls, value: Any) -> Any:
        # "   " is no reason: spaces around the text do not count towards its length.
        return value.strip() if isinstance(value, str) else value


class CorrectionAdd(_ReasonModel):
    """Add a missing check-in or check-out: it counts in the reports as a punch, marked
    corrected."""

    action: Literal["add"] = Field(description="add: a missing punch.")
    person_id: PersonId = Field(description="Whose punch.")
    kind: Literal["in", "out"] = Field(description="in: a check-in; out: a check-out.")
    day: dt.date = Field(description="The day on the site's wall clock, YYYY-MM-DD.")
    time: dt.time = Field(description="The time on the site's wall clock, HH:MM or HH:MM:SS.")
    reason: Reason

    @field_validator("time")
    @classmethod
    def _wall_clock(cls, value: dt.time) -> dt.time:
        if value.tzinfo is not None:
            raise ValueError("a wall-clock time without offset (the site zone applies)")
        return value.replace(microsecond=0)


class CorrectionVoid(_ReasonModel):
    """Void a wrong event: it stays stored as the terminal sent it and no longer counts."""

    action: Literal["void"] = Field(description="void: a wrong event.")
    event_id: UUID = Field(description="The event to void (from the event list or CSV).")
    person_id: PersonId | None = Field(
        None, description="Whose event it must be; refused (409 other_person) when it is not."
    )
    reason: Reason


CorrectionCreate = Annotated[CorrectionAdd | CorrectionVoid, Field(discriminator="action")]


class CorrectionRevoke(_ReasonModel):
    """Revoke a correction: it counts for nothing from now on and stays listed."""

    reason: Reason


class VoidedEvent(ApiModel):
    """The event a void names, as the terminal sent it (never changed)."""

    id: UUID = Field(description="The event's id.")
    kind: str = Field(description="in or out.")
    at: dt.datetime = Field(description="Its corrected time, with the site's UTC offset.")
    device_id: str = Field(description="The terminal that recorded it.")


class CorrectionInfo(ApiModel):
    """One correction; never edited, revoked at most once."""

    id: int = Field(description="The correction's number.")
    person_id: str = Field(description="Whose attendance.")
    person_name: str | None = Field(description="The person's name; null: no longer known.")
    action: Literal["add", "void"] = Field(description="add a punch, or void an event.")
    kind: Literal["in", "out"] | None = Field(description="add: the punch's kind; void: null.")
    at: dt.datetime | None = Field(
        description="add: the punch's time with the site's UTC offset; void: null."
    )
    event: VoidedEvent | None = Field(description="void: the event voided; add: null.")
    reason: str = Field(description="Why it was made.")
    created_at: dt.datetime = Field(description="When it was made (site offset).")
    created_by: str = Field(description="Who made it: a web account, or 'admin token'.")
    revoked_at: dt.datetime | None = Field(description="When it was revoked; null: it counts.")
    revoked_by: str | None = Field(description="Who revoked it.")
    live: bool = Field(description="Whether it counts in the reports (not revoked).")


class CorrectionList(ApiModel):
    """Corrections, newest first."""

    corrections: list[CorrectionInfo] = Field(description="Newest first.")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null: this was the last."
    )


class AuditEntryInfo(ApiModel):
    """One audit row: who changed what, when, and the row before and after."""

    id: int = Field(description="The row's number; higher is later.")
    at: dt.datetime = Field(description="When, with the site's UTC offset.")
    actor: str = Field(description="Who: a web account's username, or 'admin token'.")
    action: str = Field(description="create, update, delete, import, void, revoke, ...")
    entity: str = Field(description="What kind of thing: person, shift, correction, ...")
    entity_id: str = Field(description="Which one (its id).")
    before: dict[str, Any] | None = Field(description="The row before; null for a creation.")
    after: dict[str, Any] | None = Field(description="The row after; null for a deletion.")


class AuditList(ApiModel):
    """Audit rows, newest first."""

    entries: list[AuditEntryInfo] = Field(description="Newest first.")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null: this was the last."
    )
