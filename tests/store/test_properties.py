"""Property tests: whatever goes in comes back out, bit for bit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge.protocol import (
    LATEST_TIME,
    MAX_LIVENESS_REASONS,
    MAX_MARGIN,
    EnrolmentPage,
    LivenessEvidence,
    PersonDelete,
    PersonUpsert,
    encode_template,
)
from edge.store import EdgeStore, StoreConfig
from edge.store.store import _local_day_bounds, format_time, parse_time

person_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,15}\Z")
# The protocol's range of times (edge.protocol.LATEST_TIME is exclusive).
wall_times = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=LATEST_TIME.replace(tzinfo=None) - timedelta(microseconds=1),
    timezones=st.just(UTC),
)
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Santiago",
    "America/Havana",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Australia/Lord_Howe",
]


reason_names = st.from_regex(r"\A[a-z][a-z0-9_]{0,31}\Z")
evidence = st.builds(
    LivenessEvidence,
    score=st.floats(min_value=0, max_value=1),
    passed=st.booleans(),
    reasons=st.lists(reason_names, max_size=MAX_LIVENESS_REASONS),
)


@st.composite
def sightings(draw: st.DrawFn) -> dict[str, object]:
    return {
        "person_id": draw(person_ids),
        "distance": draw(st.floats(min_value=0, max_value=4)),
        "margin": draw(st.floats(min_value=0, max_value=MAX_MARGIN, allow_nan=False)),
        "wall": draw(wall_times),
        "mono": draw(st.floats(min_value=0, max_value=1e9)),
        "synced": draw(st.booleans()),
        "boot_id": draw(st.text(st.characters(codec="ascii"), min_size=1, max_size=64)),
        "liveness": draw(st.none() | evidence),
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(sightings(), min_size=1, max_size=8))
def test_events_round_trip(batch: list[dict[str, object]]) -> None:
    for item in batch:
        state = dict(item)
        with EdgeStore.open(
            ":memory:",
            StoreConfig(cooldown_s=0),
            device_id="gate-1",
            now=lambda s=state: s["wall"],  # type: ignore[misc]
            monotonic=lambda s=state: s["mono"],  # type: ignore[misc]
            boot_id=str(state["boot_id"]),
            clock_synced=lambda s=state: s["synced"],  # type: ignore[misc]
        ) as store:
            event = store.record(
                str(state["person_id"]),
                distance=float(state["distance"]),  # type: ignore[arg-type]
                margin=float(state["margin"]),  # type: ignore[arg-type]
                liveness=state["liveness"],  # type: ignore[arg-type]
            ).event
            (stored,) = store.pending()
            assert stored == event
            assert stored.model_dump() == event.model_dump()
            assert stored.wall_time == state["wall"]
            assert stored.monotonic == state["mono"]
            assert stored.distance == state["distance"]
            assert stored.margin == state["margin"]
            assert stored.clock_synced is state["synced"]
            assert stored.boot_id == state["boot_id"]
            assert stored.liveness == state["liveness"]


@given(wall_times)
def test_time_text_round_trips_and_sorts(value: datetime) -> None:
    text = format_time(value)
    assert parse_time(text) == value
    later = value + timedelta(microseconds=1)
    assert format_time(later) > text


@settings(max_examples=300)
@given(wall_times, st.sampled_from(ZONES))
def test_local_day_bounds_contain_exactly_that_day(value: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    day: date = value.astimezone(zone).date()
    start, end = _local_day_bounds(day, zone)
    assert start <= format_time(value) < end
    tick = timedelta(microseconds=1)
    assert (parse_time(start) - tick).astimezone(zone).date() < day
    assert parse_time(start).astimezone(zone).date() == day
    assert (parse_time(end) - tick).astimezone(zone).date() == day
    assert parse_time(end).astimezone(zone).date() > day


# Descriptor-shaped, as decode_template demands: |value| 1/16-1/4 keeps the norm in 0.71-2.83.
_magnitudes = st.floats(0.0625, 0.25, width=32)
vectors = arrays(np.float32, 128, elements=st.one_of(_magnitudes, _magnitudes.map(lambda v: -v)))


@st.composite
def change_lists(draw: st.DrawFn) -> list[tuple[str, str, list[np.ndarray]]]:
    """(op, person_id, templates) in order; versions are assigned by the caller."""
    pool = draw(st.lists(person_ids, min_size=1, max_size=5, unique=True))
    ops = []
    for _ in range(draw(st.integers(0, 12))):
        person = draw(st.sampled_from(pool))
        if draw(st.booleans()):
            ops.append(("upsert", person, draw(st.lists(vectors, min_size=1, max_size=3))))
        else:
            ops.append(("delete", person, []))
    return ops


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(change_lists(), st.integers(1, 4))
def test_enrolment_pages_round_trip(
    ops: list[tuple[str, str, list[np.ndarray]]], page_size: int
) -> None:
    expected: dict[str, tuple[str, list[np.ndarray]]] = {}
    with EdgeStore.open(":memory:", device_id="gate-1") as store:
        version = 0
        for first in range(0, len(ops), page_size):
            since = version
            changes: list[PersonUpsert | PersonDelete] = []
            for op, person, templates in ops[first : first + page_size]:
                version += 1
                if op == "upsert":
                    name = f"Name of {person}"
                    changes.append(
                        PersonUpsert(
                            version=version,
                            person_id=person,
                            name=name,
                            templates=[encode_template(t) for t in templates],
                        )
                    )
                    expected[person] = (name, templates)
                else:
                    changes.append(PersonDelete(version=version, person_id=person))
                    expected.pop(person, None)
            store.apply_enrolment(
                EnrolmentPage(since=since, version=version, more=True, changes=changes)
            )

        assert store.enrolment_version() == version
        assert store.people() == {p: name for p, (name, _) in expected.items()}
        gallery = store.load_gallery()
        assert set(gallery.person_ids) == set(expected)
        assert len(gallery) == sum(len(t) for _, t in expected.values())
        for person, (_, templates) in expected.items():
            np.testing.assert_array_equal(gallery.templates_of(person), np.stack(templates))
