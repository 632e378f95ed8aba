"""Request and answer models of the admin API (the terminal API uses edge.protocol).

People, terminals and events are here; shifts and a person's attendance settings in
``schemas.shifts``, the reports' answers in ``schemas.reports``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.protocol import ID_MAX_LENGTH, ID_PATTERN, DeviceId, PersonId, decode_template
from sync_server.db import DEFAULT_GROUP

GroupName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="Site or group: a terminal receives the people of its group only.",
    ),
]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthStatus(ApiModel):
    status: Literal["ok", "unavailable"]
    detail: str = ""


class TerminalSelf(ApiModel):
    """Who the calling terminal is, as the server sees it."""

    id: DeviceId
    group: GroupName
    server_time: datetime


class TerminalCreate(ApiModel):
    id: DeviceId = Field(description="The terminal's device id (its edge.toml device.id).")
    group: GroupName = DEFAULT_GROUP
    description: str = Field("", max_length=200, description="Where it hangs, for humans.")


class TerminalUpdate(ApiModel):
    group: GroupName | None = Field(
        None, description="Move the terminal: it drops its people and copies the new group's."
    )
    description: str | None = Field(None, max_length=200)


class HeartbeatInfo(ApiModel):
    received_at: datetime
    client_ip: str
    wall_time: datetime
    clock_synced: bool
    clock_offset_s: float = Field(description="Terminal clock minus server clock, seconds.")
    boot_id: str
    software_version: str
    enrolment_version: int
    backlog: int
    backlog_oldest_age_s: float | None
    camera_state: str
    fps: float
    recognition_latency_ms: float | None
    store_state: Literal["ok", "error"] | None = Field(
        None,
        description="error: the terminal's last write to its store failed, so it cannot save "
        "attendance; null: a terminal too old to report it.",
    )
    store_errors: int | None = Field(
        None, description="Failed writes to the store since the terminal's daemon started."
    )
    store_last_error: str | None = Field(
        None, description="The last failed write's error, kept after a recovery."
    )


class TerminalInfo(ApiModel):
    id: DeviceId
    group: GroupName
    description: str
    created_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None = Field(description="When the last heartbeat arrived.")
    heartbeat: HeartbeatInfo | None = Field(description="The latest heartbeat, if any.")


class TerminalCreated(TerminalInfo):
    token: str = Field(
        description="The terminal's bearer token. Shown only now: the server keeps a hash."
    )


class TerminalList(ApiModel):
    terminals: list[TerminalInfo]


ConsentVersion = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=ID_PATTERN,
        description="Version of the consent text the person read and accepted, e.g. 2026-12.",
    ),
]


class ConsentGive(ApiModel):
    """The person has read and accepted the site's consent text (docs/privacy.md)."""

    text_version: ConsentVersion | None = Field(
        None, description="The text's version; default: the site's privacy.consent_text_version."
    )
    collected_by: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Who collected the consent (a name); default: 'admin token', the API's "
        "credential.",
    )
    channel: Literal["api", "cli"] = Field(
        "api", description="How it was recorded: api, or cli for hadir person (the web: web)."
    )


class ConsentInfo(ApiModel):
    """One consent on record."""

    given_at: datetime = Field(description="When it was recorded.")
    collected_by: str = Field(description="Who collected it.")
    text_version: str = Field(description="The consent text's version.")
    channel: Literal["web", "api", "cli"] = Field(description="Where it was recorded.")
    withdrawn_at: datetime | None = Field(None, description="When it was withdrawn; null: not.")
    withdrawn_by: str | None = Field(None, description="Who recorded the withdrawal.")


class ConsentWithdrawn(ApiModel):
    """A withdrawal: the consent ended and the person's templates were erased everywhere."""

    person_id: PersonId = Field(description="Whose consent.")
    withdrawn: list[ConsentInfo] = Field(
        description="The consent(s) that ended now; empty when none was on record."
    )
    templates_deleted: int = Field(description="Templates deleted from the server.")
    version: int | None = Field(
        description="Enrolment version of the change (terminals drop the templates when they "
        "reach it); null if no terminal had them."
    )


class PersonCreate(ApiModel):
    id: PersonId = Field(description="Stable id, e.g. the payroll number.")
    name: str = Field(min_length=1, max_length=200)
    group: GroupName = DEFAULT_GROUP
    consent: ConsentGive | None = Field(
        None,
        description="The person's consent, recorded with the person (so enrolment is one "
        "step); without it, photos and templates are refused (409 consent_missing) until "
        "consent is recorded.",
    )


class PersonUpdate(ApiModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    group: GroupName | None = None


class TemplateInfo(ApiModel):
    id: int
    source: str = Field(description="Uploaded file name, or 'import'.")
    photo_sha256: str | None
    created_at: datetime


class PersonInfo(ApiModel):
    id: PersonId
    name: str
    group: GroupName
    created_at: datetime
    updated_at: datetime
    templates: list[TemplateInfo]
    consent: ConsentInfo | None = Field(
        None,
        description="The consent in force (given, not withdrawn); null: none on record, so "
        "no photo or template is accepted.",
    )


class PersonList(ApiModel):
    people: list[PersonInfo]


class DuplicateWarning(ApiModel):
    code: Literal["possible_duplicate"] = "possible_duplicate"
    person_id: PersonId = Field(description="The already enrolled person the new face is near.")
    distance: float = Field(description="Descriptor distance; under the matching threshold.")
    detail: str


class PhotoAccepted(ApiModel):
    person_id: PersonId
    template_id: int
    created: bool = Field(description="False when this exact photo was already enrolled.")
    templates: int = Field(description="How many templates the person has now.")
    version: int | None = Field(description="Enrolment version of the change; null if none.")
    warnings: list[DuplicateWarning] = Field(
        description="Other people closer than the matching threshold: a duplicate enrolment, "
        "a twin, or a photo of the wrong person. The template is stored all the same."
    )


class TemplatesImport(ApiModel):
    """Templates computed elsewhere (another hadir server, ``hadir enrol`` on a terminal)."""

    templates: list[str] = Field(
        min_length=1, max_length=64, description="base64 float32 templates (encode_template)."
    )
    source: str = Field("import", min_length=1, max_length=200)

    @field_validator("templates")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        for item in value:
            decode_template(item)
        return value


class TemplatesImported(ApiModel):
    person_id: PersonId
    template_ids: list[int]
    templates: int
    version: int
    warnings: list[DuplicateWarning]


class Deleted(ApiModel):
    id: str
    version: int | None = Field(description="Enrolment version of the change; null if none.")


class ChangeVersion(ApiModel):
    version: int | None = Field(description="Enrolment version of the change; null if none.")


class EventInfo(ApiModel):
    id: UUID
    device_id: str
    person_id: str
    kind: str
    wall_time: datetime = Field(description="Terminal wall clock as sent.")
    clock_synced: bool
    corrected_time: datetime = Field(description="Best-known time of the event (see time_source).")
    time_source: str = Field(
        description="terminal, corrected_terminal, corrected_server or unsynced."
    )
    received_at: datetime
    person_known: bool = Field(description="Whether the person existed at the server then.")
    other_group: bool = Field(
        description="The person belonged to another group than the terminal's, which only "
        "holds its own group's people: moved moments before, or attendance it cannot have seen."
    )
    distance: float
    margin: float
    liveness_score: float | None = Field(
        None,
        description="The terminal's liveness score, 0 (looks like an attack) to 1 (a live "
        "face); null from a terminal that does not run the check.",
    )
    liveness_passed: bool | None = Field(
        None, description="Whether the score reached the terminal's threshold; null: no check."
    )
    liveness_reasons: list[str] | None = Field(
        None, description="The cues that spoke against a live face, strongest first."
    )
    needs_review: bool = Field(
        False,
        description="The liveness check failed (a terminal in flag mode recorded it anyway) "
        "and no admin has reviewed the event yet.",
    )
    reviewed_at: datetime | None = Field(None, description="When an admin marked it reviewed.")
    reviewed_by: str | None = Field(
        None,
        description="Who marked it reviewed: the web account's username, or 'admin token' "
        "for the API's admin credential.",
    )


class EventList(ApiModel):
    events: list[EventInfo]


class ReviewItem(EventInfo):
    person_name: str | None = Field(description="The person's name; null if the server has none.")


class ReviewList(ApiModel):
    """Events whose liveness check failed, oldest first, and how many are still open."""

    open: int = Field(description="Flagged events not reviewed yet, over all times and terminals.")
    events: list[ReviewItem]


class RejectedEventInfo(ApiModel):
    event_id: UUID
    device_id: str = Field(description="The terminal that sent it.")
    reason: str
    detail: str
    received_at: datetime
    event: dict[str, Any] = Field(description="The event as sent.")


class RejectedEventList(ApiModel):
    rejected: list[RejectedEventInfo]
