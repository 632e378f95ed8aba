"""Request and answer models of shifts and a person's attendance settings (department, HR
employee id, own shift)."""

from __future__ import annotations

from datetime import time

from pydantic import Field, field_validator, model_validator

from edge.protocol import MAX_COUNT, PersonId
from sync_server.schemas import ApiModel


class ShiftCreate(ApiModel):
    name: str = Field(min_length=1, max_length=64, description="Unique, e.g. 'day' or 'night'.")
    start: time = Field(description="Start on the site's wall clock, HH:MM.")
    end: time = Field(description="End, HH:MM; earlier than start means it crosses midnight.")
    grace_minutes: int = Field(
        0, ge=0, le=720, description="A first in this long after the start is still on time."
    )

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a wall-clock time without offset (the site zone applies)")
        return value.replace(microsecond=0)

    @model_validator(mode="after")
    def _not_empty(self) -> ShiftCreate:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class ShiftUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=64)
    start: time | None = None
    end: time | None = None
    grace_minutes: int | None = Field(None, ge=0, le=720)

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time | None) -> time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("a wall-clock time without offset (the site zone applies)")
        return None if value is None else value.replace(microsecond=0)


class ShiftRef(ApiModel):
    id: int
    name: str
    start: time
    end: time
    grace_minutes: int
    crosses_midnight: bool


class ShiftInfo(ShiftRef):
    groups: list[str] = Field(description="Groups whose people work this shift.")
    people: list[str] = Field(description="People with this shift as their own (override).")


class ShiftList(ApiModel):
    shifts: list[ShiftInfo]


class GroupShift(ApiModel):
    shift_id: int | None = Field(
        ge=1, le=MAX_COUNT, description="The group's shift; null removes it."
    )


class GroupShiftInfo(ApiModel):
    group: str
    shift: ShiftRef | None


class PersonAttendanceUpdate(ApiModel):
    """Only the fields sent change; null clears one."""

    department: str | None = Field(None, min_length=1, max_length=100)
    employee_id: str | None = Field(
        None, min_length=1, max_length=140, description="HR/payroll id; null: the person id."
    )
    shift_id: int | None = Field(
        None, ge=1, le=MAX_COUNT, description="Own shift, overriding the group's; null: none."
    )


class PersonAttendanceInfo(ApiModel):
    person_id: PersonId
    group: str
    department: str | None
    employee_id: str = Field(description="As sent to HRMS (the person id unless set).")
    own_shift: ShiftRef | None
    shift: ShiftRef | None = Field(description="The shift that applies: own, else the group's.")
