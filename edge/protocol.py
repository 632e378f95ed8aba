"""Wire models of the sync protocol (``/api/v1``), shared by the terminal and the server.

One definition on both sides means a field cannot drift. The prose reference is
docs/protocol.md.
"""

from __future__ import annotations

import base64
import enum
import re
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from edge.recognize.types import DESCRIPTOR_DIM

API_PREFIX = "/api/v1"
MAX_BATCH = 500
TEMPLATE_BYTES = DESCRIPTOR_DIM * 4
MAX_STORE_ERROR = 200  # characters of Heartbeat.store_last_error
# What a dlib ResNet descriptor looks like (docs/recognition.md, "Templates"): measured over every
# face in ../shared/faces, |value| <= 0.50 and L2 norm 1.30-1.59. The bounds leave a wide margin
# and keep crafted vectors out: values near float32's limit overflow the matcher's arithmetic.
TEMPLATE_MAX_VALUE = 1.0
TEMPLATE_MIN_NORM = 0.5
TEMPLATE_MAX_NORM = 3.0
MAX_MARGIN = 4.0  # descriptor distances of dlib's unit-ish vectors stay well under 2
# Bounds of every time and number a client sends (docs/protocol.md, "Limits"): whatever passes
# validation can neither overflow the server's arithmetic (clock correction adds a monotonic
# difference to a wall time) nor its columns (64-bit integers, timestamps). They are wide: a
# Pi without an RTC boots at the Unix epoch at worst, and no terminal stays up for centuries.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2200, 1, 1, tzinfo=UTC)
MAX_MONOTONIC_S = 1e10
MAX_VERSION = 2**63 - 1
MAX_COUNT = 2**31 - 1
MAX_LATENCY_MS = 86_400_000.0

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""Ids of people, terminals and groups: a letter or digit, then letters, digits and ``._-``
(safe in URLs, file names and log lines). The one definition: config, API bodies and URL
paths all use it."""
ID_MAX_LENGTH = 64

PersonId = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
DeviceId = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]


def check_time(value: datetime) -> datetime:
    """An aware time within EARLIEST_TIME..LATEST_TIME; ValueError otherwise."""
    if value.utcoffset() is None:
        raise ValueError("a time needs a UTC offset, e.g. 2026-11-25T08:00:00Z")
    # The year first: converting year 1 at +14:00 to UTC would itself overflow.
    in_range = EARLIEST_TIME.year - 1 <= value.year <= LATEST_TIME.year and (
        EARLIEST_TIME <= value < LATEST_TIME
    )
    if not in_range:
        raise ValueError(
            f"a time must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d} (UTC)"
        )
    return value


_ISO_DAY = re.compile(r"\d{4}-\d\d-\d\d")


def iso_text(value: object) -> object:
    """Only ISO 8601 text (or a date/datetime object) is a time or a day: pydantic would also
    take a number, or text like "0.5", as seconds since 1970, which no client means."""
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_DAY.match(value)):
        raise ValueError("ISO 8601 text is required, e.g. 2026-11-25 or 2026-11-25T08:00:00Z")
    return value


WireTime = Annotated[datetime, BeforeValidator(iso_text), AfterValidator(check_time)]


class WireModel(BaseModel):
    # NaN and infinities are not numbers a terminal measures; JSON has no way to say them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EventKind(enum.StrEnum):
    IN = "in"
    OUT = "out"


MAX_LIVENESS_REASONS = 8
LivenessReason = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class LivenessEvidence(WireModel):
    """What the terminal's presentation-attack check concluded about the face it recorded.

    Sent by terminals that run the check (``[recognition.liveness] mode`` ``flag`` or
    ``refuse``). In ``flag`` mode an event whose ``passed`` is false was recorded, but a person
    should look at it ("needs review"); in ``refuse`` mode such an event is never recorded.
    """

    score: float = Field(
        ge=0, le=1, description="Fused liveness score: 0 looks like an attack, 1 like a live face."
    )
    passed: bool = Field(description="Whether the score reached the terminal's threshold.")
    reasons: list[LivenessReason] = Field(
        default_factory=list,
        max_length=MAX_LIVENESS_REASONS,
        description="Named cues that spoke against a live face, strongest first "
        "(for example frame_edges, flat_motion, recapture_texture); empty when it passed.",
    )


class AttendanceEvent(WireModel):
    """One attendance event as recorded by a terminal. ``id`` is the idempotency key."""

    id: UUID = Field(description="Client-made UUID (v7 preferred); unique forever.")
    device_id: DeviceId = Field(description="The terminal that recorded it.")
    person_id: PersonId = Field(description="Who was recognised.")
    kind: EventKind = Field(description="in or out.")
    wall_time: WireTime = Field(
        description="Terminal wall clock at recognition, ISO 8601 with UTC offset, 1970-2199."
    )
    clock_synced: bool = Field(description="Whether the terminal clock was NTP-synchronised.")
    monotonic: float = Field(
        ge=0,
        le=MAX_MONOTONIC_S,
        description="Terminal CLOCK_MONOTONIC seconds at recognition.",
    )
    boot_id: str = Field(min_length=1, max_length=64, description="Kernel boot id of that boot.")
    distance: float = Field(ge=0, le=4, description="Descriptor distance to the person.")
    margin: float = Field(
        ge=0,
        le=MAX_MARGIN,
        description="Second-best person's distance minus the best one's; 4.0 (the largest "
        "possible) when nobody else is enrolled.",
    )
    liveness: LivenessEvidence | None = Field(
        default=None,
        description="The liveness check's result, when the terminal runs it; absent from "
        "terminals that do not (mode off, or older software).",
    )

    @field_validator("margin", mode="before")
    @classmethod
    def _finite_margin(cls, value: object) -> object:
        # The matcher says inf when only one person is enrolled; JSON has no inf.
        if isinstance(value, float) and value > MAX_MARGIN:
            return MAX_MARGIN
        return value


class EventBatch(WireModel):
    """POST /api/v1/events body."""

    device_id: DeviceId = Field(description="The sending terminal; must match its token.")
    sent_wall_time: WireTime = Field(
        description="Terminal wall clock when the batch was sent, with UTC offset, 1970-2199."
    )
    sent_monotonic: float = Field(
        ge=0, le=MAX_MONOTONIC_S, description="Terminal monotonic clock at sending."
    )
    boot_id: str = Field(min_length=1, max_length=64, description="Terminal boot id at sending.")
    clock_synced: bool = Field(description="Terminal clock synchronised when sending.")
    events: list[AttendanceEvent] = Field(max_length=MAX_BATCH, description="Up to 500 events.")


class EventStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    CONFLICT = "conflict"


class EventResult(WireModel):
    id: UUID
    status: EventStatus
    reason: str | None = None


class BatchResult(WireModel):
    """Answer to a batch: one result per event id, in request order."""

    results: list[EventResult]
    server_time: datetime


def encode_template(vector: npt.ArrayLike) -> str:
    """A 128-D template as base64 of 512 little-endian float32 bytes."""
    arr = np.asarray(vector, dtype="<f4").reshape(DESCRIPTOR_DIM)
    return base64.b64encode(arr.tobytes()).decode("ascii")


def decode_template(text: str) -> npt.NDArray[np.float32]:
    """Inverse of :func:`encode_template`; raises ValueError on a malformed template.

    Only descriptor-shaped vectors pass (finite, every value within ±TEMPLATE_MAX_VALUE, L2
    norm within TEMPLATE_MIN_NORM..TEMPLATE_MAX_NORM).
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("template is not valid base64") from exc
    if len(raw) != TEMPLATE_BYTES:
        raise ValueError(f"template has {len(raw)} bytes, expected {TEMPLATE_BYTES}")
    return check_template(np.frombuffer(raw, dtype="<f4").astype(np.float32))


def check_template(arr: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``arr`` if it is shaped like a dlib descriptor (see :func:`decode_template`), else
    ValueError naming the problem."""
    if arr.shape != (DESCRIPTOR_DIM,):
        raise ValueError(f"template has shape {arr.shape}, expected ({DESCRIPTOR_DIM},)")
    if not np.isfinite(arr).all():
        raise ValueError("template contains NaN or infinite values")
    largest = float(np.abs(arr).max())
    if largest > TEMPLATE_MAX_VALUE:
        raise ValueError(
            f"template has a value of magnitude {largest:.3g}, over {TEMPLATE_MAX_VALUE}: "
            "not a face descriptor"
        )
    norm = float(np.linalg.norm(arr))
    if not TEMPLATE_MIN_NORM <= norm <= TEMPLATE_MAX_NORM:
        raise ValueError(
            f"template has L2 norm {norm:.3g}, outside {TEMPLATE_MIN_NORM}-{TEMPLATE_MAX_NORM}: "
            "not a face descriptor"
        )
    return arr


class PersonUpsert(WireModel):
    """A person was created or changed: the full, current set of their templates."""

    op: Literal["upsert"] = "upsert"
    version: int = Field(ge=1, le=MAX_VERSION, description="Server version of this change.")
    person_id: PersonId
    name: str = Field(min_length=1, max_length=200)
    templates: list[str] = Field(
        min_length=1, max_length=64, description="base64 float32 templates (encode_template)."
    )

    @field_validator("templates")
    @classmethod
    def _valid_templates(cls, value: list[str]) -> list[str]:
        for item in value:
            decode_template(item)
        return value


class PersonDelete(WireModel):
    """A person was deleted: every terminal drops their templates."""

    op: Literal["delete"] = "delete"
    version: int = Field(ge=1, le=MAX_VERSION, description="Server version of this change.")
    person_id: PersonId


EnrolmentChange = Annotated[PersonUpsert | PersonDelete, Field(discriminator="op")]


class EnrolmentPage(WireModel):
    """GET /api/v1/enrolment/changes?since=V answer.

    ``changes`` are in increasing version order, all > ``since``; the terminal
    stores ``version`` after applying the page and asks again while ``more``.
    """

    since: int = Field(ge=0, le=MAX_VERSION)
    version: int = Field(
        ge=0, le=MAX_VERSION, description="Version the terminal is at after this page."
    )
    more: bool = Field(description="Whether more changes follow.")
    changes: list[EnrolmentChange]
    reset: bool = Field(
        False,
        description="The terminal's copy is stale (it moved to another group, or its version "
        "is unknown to the server): drop every local template before applying this page, "
        "which starts a full copy of the group.",
    )


class Heartbeat(WireModel):
    """POST /api/v1/heartbeat body: the terminal's health, sent every minute or so."""

    device_id: DeviceId = Field(description="The sending terminal; must match its token.")
    wall_time: WireTime = Field(
        description="Terminal wall clock when sent, with UTC offset, 1970-2199."
    )
    monotonic: float = Field(
        ge=0, le=MAX_MONOTONIC_S, description="Terminal CLOCK_MONOTONIC seconds when sent."
    )
    boot_id: str = Field(min_length=1, max_length=64, description="Kernel boot id.")
    clock_synced: bool = Field(description="Whether the terminal clock is NTP-synchronised.")
    software_version: str = Field(min_length=1, max_length=64, description="hadir version.")
    enrolment_version: int = Field(
        ge=0, le=MAX_VERSION, description="Enrolment version the terminal holds."
    )
    backlog: int = Field(
        ge=0, le=MAX_COUNT, description="Events in the outbox, not yet accepted by the server."
    )
    backlog_oldest_age_s: float | None = Field(
        None,
        ge=0,
        le=MAX_MONOTONIC_S,
        description="Age in seconds of the oldest outbox event; null when empty.",
    )
    camera_state: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z][a-z_]*$",
        description="Camera state, e.g. ok, starting, reconnecting, failed, frozen, blank.",
    )
    fps: float = Field(ge=0, le=1000, description="Frames processed per second, recent average.")
    recognition_latency_ms: float | None = Field(
        None,
        ge=0,
        le=MAX_LATENCY_MS,
        description="Recent median time from a face appearing to its decision, milliseconds.",
    )
    # Optional, so the heartbeats of terminals older than these fields still validate.
    store_state: Literal["ok", "error"] | None = Field(
        None,
        description="ok: the terminal's last write to its store succeeded; error: it failed "
        "and the terminal cannot save attendance (full disk, read-only file...); null: a "
        "terminal too old to say.",
    )
    store_errors: int | None = Field(
        None,
        ge=0,
        le=2**31 - 1,
        description="Failed writes to the store since the daemon started.",
    )
    store_last_error: str | None = Field(
        None,
        max_length=MAX_STORE_ERROR,
        description="The last failed write's error (kept after a recovery); null when none.",
    )


class HeartbeatAck(WireModel):
    """Answer to a heartbeat."""

    server_time: datetime = Field(description="Server clock when the heartbeat arrived.")
    clock_offset_s: float = Field(
        description="Terminal wall clock minus server clock, seconds (network delay included)."
    )
    enrolment_version: int = Field(
        ge=0,
        le=MAX_VERSION,
        description="Latest enrolment version for the terminal's group: pull when ahead.",
    )
