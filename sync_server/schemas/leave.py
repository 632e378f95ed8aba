"""Request and answer models of leave and permissions: the kinds of leave, a person's leave
over a range of days, and the CSV import's line-by-line report.

The operations are in sync_server/leave.py; docs/leave.md describes the rules.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator

from edge.protocol import EARLIEST_TIME, LATEST_TIME, iso_text
from sync_server.schemas import ApiModel

# The days the reports can ask for (sync_server/reports/timebase.py), spelled again here so
# that the reports may import the leave module without a cycle.
FIRST_DAY = EARLIEST_TIME.date()
LAST_DAY = LATEST_TIME.date() - timedelta(days=1)

KIND_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_LABEL = 64  # leave_kinds.label_en / label_id
MAX_NOTE = 500  # leaves.note
MAX_PERSON = 140  # an employee id is up to 140 characters (people.employee_id)

LeaveDay = Annotated[
    date,
    BeforeValidator(iso_text),
    Field(ge=FIRST_DAY, le=LAST_DAY),
]
ImportOutcome = Literal["added", "refused"]


def _label(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("the label is empty")
    return cleaned


def _note(value: str | None) -> str | None:
    # An empty note is no note: the form's empty field and the API's "" mean the same.
    if value is None:
        return None
    cleaned = value.strip()
    return cleaned or None


class LeaveKindCreate(ApiModel):
    code: str = Field(
        pattern=KIND_CODE_PATTERN,
        description="Stable code, lower case: a letter, then letters, digits or _ (at most 32), "
        "e.g. 'maternity'.",
        examples=["maternity"],
    )
    label_en: str = Field(
        min_length=1, max_length=MAX_LABEL, description="English label, e.g. 'Maternity leave'."
    )
    label_id: str = Field(
        min_length=1,
        max_length=MAX_LABEL,
        description="Indonesian label, e.g. 'Cuti melahirkan'.",
    )

    _clean = field_validator("label_en", "label_id")(_label)


class LeaveKindUpdate(ApiModel):
    """Only the fields sent change."""

    label_en: str | None = Field(
        None, min_length=1, max_length=MAX_LABEL, description="New English label."
    )
    label_id: str | None = Field(
        None, min_length=1, max_length=MAX_LABEL, description="New Indonesian label."
    )
    active: bool | None = Field(
        None,
        description="false retires the kind: no new leave of it, old leave keeps it; true "
        "offers it again.",
    )

    @field_validator("label_en", "label_id")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        return None if value is None else _label(value)


class LeaveKindInfo(ApiModel):
    code: str = Field(description="The kind's stable code (leave rows and exports carry it).")
    label_en: str = Field(description="English label.")
    label_id: str = Field(description="Indonesian label.")
    active: bool = Field(description="false: retired, not offered for new leave.")
    in_use: int = Field(description="How many leave rows have this kind (then never deleted).")


class LeaveKindList(ApiModel):
    kinds: list[LeaveKindInfo] = Field(description="Every kind, retired ones too, by code.")


class LeaveCreate(ApiModel):
    person: str = Field(
        min_length=1,
        max_length=MAX_PERSON,
        description="The person's id, or their HR employee id.",
        examples=["siti"],
    )
    kind: str = Field(
        min_length=1,
        max_length=MAX_LABEL,
        description="The kind's code, or its English or Indonesian label (any case): "
        "'sick', 'Sakit'. A retired kind is refused.",
        examples=["sick"],
    )
    start: LeaveDay = Field(description="First day of leave, YYYY-MM-DD (site's days).")
    end: LeaveDay | None = Field(
        None,
        description="Last day of leave, included; null or missing: the start day only. At "
        "most 366 days from start to end.",
    )
    note: str | None = Field(
        None, max_length=MAX_NOTE, description="Free text, e.g. 'doctor's note'."
    )

    _clean_note = field_validator("note")(_note)


class LeaveUpdate(ApiModel):
    """Only the fields sent change; the person stays (delete and add to move leave)."""

    kind: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_LABEL,
        description="New kind: code or label (a retired kind is refused; leave that has one "
        "keeps it while kind is not sent).",
    )
    start: LeaveDay | None = Field(None, description="New first day.")
    end: LeaveDay | None = Field(None, description="New last day, included.")
    note: str | None = Field(None, max_length=MAX_NOTE, description="New note; null clears it.")

    _clean_note = field_validator("note")(_note)


class LeaveInfo(ApiModel):
    id: int = Field(description="The leave's id.")
    person_id: str = Field(description="Whose leave.")
    person_name: str | None = Field(description="The person's name; null if deleted since.")
    kind: str = Field(description="The kind's code.")
    kind_label_en: str = Field(description="The kind's English label.")
    kind_label_id: str = Field(description="The kind's Indonesian label.")
    start: date = Field(description="First day of leave.")
    end: date = Field(description="Last day of leave, included.")
    days: int = Field(description="Calendar days from start to end, both included.")
    note: str | None = Field(description="Free text, if any.")
    created_at: datetime = Field(description="When it was entered.")
    created_by: str = Field(
        description="Who entered it: the web account, or 'admin token' for the API."
    )


class LeaveList(ApiModel):
    leave: list[LeaveInfo] = Field(description="By first day, then person.")
    more: bool = Field(description="True: more leave matched than the limit; narrow the range.")


class LeaveImportLine(ApiModel):
    line: int = Field(description="Line number in the file (the header is line 1).")
    outcome: ImportOutcome = Field(
        description="added (in a dry run: would be added) or refused (nothing of it written)."
    )
    reason: str | None = Field(
        description="Why it was refused, for machines: missing_value, too_many_values, "
        "unknown_person, unknown_leave_kind, retired_leave_kind, ambiguous_leave_kind, "
        "bad_date, end_before_start, leave_too_long, note_too_long, leave_overlap; null if "
        "added."
    )
    value: str | None = Field(description="The value refused, as written in the file.")
    detail: str = Field(description="What happened to the line, for a human.")
    leave_id: int | None = Field(description="The new leave's id; null if refused or a dry run.")
    person_id: str | None = Field(description="The person the line named (by id or employee id).")
    kind: str | None = Field(description="The kind's code the line named (by code or label).")
    start: date | None = Field(description="First day, when the line had a good one.")
    end: date | None = Field(description="Last day, when the line had a good one.")


class LeaveImportReport(ApiModel):
    dry_run: bool = Field(description="True: nothing was written; the report is the same.")
    added: int = Field(description="Lines added (would be added in a dry run).")
    refused: int = Field(description="Lines refused.")
    lines: list[LeaveImportLine] = Field(
        description="Every line with data, in file order (blank lines are skipped)."
    )
