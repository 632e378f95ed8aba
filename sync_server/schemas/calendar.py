"""Request and answer models of the working calendar: weeks per group, days off, import.

The operations are in sync_server/calendar.py; docs/calendar.md describes them.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sync_server.schemas import ApiModel

DayOffKind = Literal["holiday", "day_off"]
ImportOutcome = Literal["added", "updated", "unchanged", "refused"]
ImportFormat = Literal["ics", "csv"]

MAX_NAME = 200  # days_off.name
FIRST_YEAR, LAST_YEAR = 1900, 2999  # as sync_server/calendar_files.py reads files
MAX_RANGE_DAYS = 366  # one request adds at most a year of days off


def _clean_name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("the name is empty")
    return cleaned


class WeekSet(ApiModel):
    weekdays: str = Field(
        min_length=1,
        max_length=64,
        description="The working days: 'Mon-Fri', 'Mon-Sat', 'Mon,Wed,Fri', or seven 0/1 "
        "characters from Monday ('1111100').",
        examples=["Mon-Sat"],
    )


class WeekShift(ApiModel):
    id: int = Field(description="The shift's id (admin API /shifts).")
    name: str = Field(description="The shift's name.")
    start: time = Field(description="Start on the site's wall clock.")
    end: time = Field(description="End on the site's wall clock; before start: next day.")


class WeekInfo(ApiModel):
    group: str = Field(description="The group, or '*' for the site's default week.")
    weekdays: str = Field(description="Seven 0/1 characters from Monday; 1 is a working day.")
    described: str = Field(description="The same week in words, e.g. 'Mon-Fri'.")
    own: bool = Field(
        description="True: the group has its own week; false: it works the site default "
        "(or, without one, Monday to Friday)."
    )
    shift: WeekShift | None = Field(
        description="The shift of the group's people (a person's own shift overrides it); "
        "null: none set, or the site default row."
    )
    updated_at: datetime | None = Field(
        description="When the group's own week was last set; null without one."
    )
    updated_by: str | None = Field(description="Who set it: web username or 'admin token'.")


class WeekList(ApiModel):
    weeks: list[WeekInfo] = Field(
        description="The site default ('*') first, then every group the server knows (of "
        "people, terminals, shifts or weeks), by name."
    )


class DayOffCreate(ApiModel):
    day: date = Field(description="The (first) day, YYYY-MM-DD, on the site's calendar.")
    to: date | None = Field(
        None,
        description="The last day of a range, included (e.g. several days of collective "
        f"leave): one day off per date, at most {MAX_RANGE_DAYS}. Null: just the one day.",
    )
    kind: DayOffKind = Field("holiday", description="holiday (public) or day_off (company).")
    name: str = Field(min_length=1, max_length=MAX_NAME, description="e.g. 'Idul Fitri'.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _clean_name(value)

    @field_validator("day", "to")
    @classmethod
    def _year(cls, value: date | None) -> date | None:
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ValueError(f"a date from {FIRST_YEAR} to {LAST_YEAR}")
        return value

    @model_validator(mode="after")
    def _range(self) -> DayOffCreate:
        if self.to is not None:
            if self.to < self.day:
                raise ValueError("to is before day")
            if (self.to - self.day).days + 1 > MAX_RANGE_DAYS:
                raise ValueError(f"a range of more than {MAX_RANGE_DAYS} days")
        return self


class DayOffUpdate(ApiModel):
    """Only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=MAX_NAME, description="New name.")
    kind: DayOffKind | None = Field(None, description="New kind: holiday or day_off.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else _clean_name(value)


class DayOffInfo(ApiModel):
    day: date = Field(description="The date on the site's calendar.")
    weekday: str = Field(description="Its weekday, Mon to Sun.")
    kind: DayOffKind = Field(description="holiday (public) or day_off (company).")
    name: str = Field(description="What the day is.")
    created_at: datetime = Field(description="When it was entered.")
    created_by: str = Field(description="Who entered it: web username or 'admin token'.")


class DayOffList(ApiModel):
    days_off: list[DayOffInfo] = Field(description="By date.")


class ImportLine(ApiModel):
    line: int = Field(description="Line of the file (1-based) the entry starts on.")
    day: date | None = Field(description="The day it names; null when unreadable.")
    name: str | None = Field(description="The name it gives.")
    kind: DayOffKind | None = Field(description="The kind it would be stored as.")
    outcome: ImportOutcome = Field(
        description="added (new day off), updated (the date was there with another name or "
        "kind: now the file's), unchanged (the date was there just so), refused (see detail)."
    )
    reason: str | None = Field(
        description="Why it was refused, for machines: bad_date, empty_name, name_too_long, "
        "unknown_kind, bad_line, bad_value, duplicate_in_file, unsupported_rule, "
        "no_occurrence, cancelled, range_too_long; null otherwise."
    )
    detail: str = Field(description="What happened, for a human.")


class ImportReport(ApiModel):
    format: ImportFormat = Field(description="How the file was read: ics or csv.")
    dry_run: bool = Field(description="True: a preview, nothing was stored.")
    year: int = Field(description="The year yearly rules (RRULE FREQ=YEARLY) were expanded for.")
    added: int = Field(description="Days off added (or that would be).")
    updated: int = Field(description="Days off whose name or kind changed.")
    unchanged: int = Field(description="Days already there just so.")
    refused: int = Field(description="Entries refused; the lines say why.")
    lines: list[ImportLine] = Field(description="One per day or refused entry, in file order.")
