"""The terminal end to end on the real clip: replay camera, real store, mock GPIO pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.capture import ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.runner import EdgeDaemon
from edge.feedback import Signal
from edge.feedback.config import GPIOFeedbackConfig
from edge.feedback.gpio import GPIOFeedback
from edge.recognize.analyzer import FaceAnalyzer
from edge.store import EdgeStore

from .conftest import enrol

pytestmark = pytest.mark.faces

GREEN, RED, BUZZER = 17, 27, 22


def test_clip_records_him_once_and_reports_the_stranger_unknown(
    tmp_path: Path, faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    config = EdgeConfig.model_validate({"device": {"id": "door-1"}, "data_dir": str(tmp_path)})
    store = EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="door-1"
    )
    enrol(
        store,
        analyzer,
        [("lin_manuel_miranda", [faces_dir / "people/lin_manuel_miranda/lmm1.png"])],
    )
    pins = MockFactory()
    feedback = GPIOFeedback(
        GPIOFeedbackConfig(green_pin=GREEN, red_pin=RED, buzzer_pin=BUZZER, time_scale=0),
        pin_factory=pins,
    )
    signalled: list[Signal] = []
    feedback.when_signalled = signalled.append
    source = create_source(
        ReplayCameraConfig(path=faces_dir / "video/short_hamilton_clip.mp4", pace="fast")
    )
    daemon = EdgeDaemon(config, store=store, source=source, feedback=feedback)

    assert daemon.run() == 0

    decisions = daemon.counters.decisions
    accepted = [d for d in decisions if d.person_id is not None]
    unknown = [d for d in decisions if d.person_id is None]
    assert [d.person_id for d in accepted] == ["lin_manuel_miranda"]
    assert 82 <= accepted[0].frame_index <= 130
    assert len(unknown) == 1
    assert 217 <= unknown[0].frame_index <= 275
    assert signalled == [Signal.ACCEPTED, Signal.UNKNOWN]

    # The green LED lit for him, the red one for the stranger, the buzzer for both.
    assert True in [s.state for s in pins.pin(GREEN).states]
    assert True in [s.state for s in pins.pin(RED).states]
    assert [s.state for s in pins.pin(BUZZER).states].count(True) >= 2
    # Everything off after close.
    assert not any(pins.pin(p).state for p in (GREEN, RED, BUZZER))

    with EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="door-1"
    ) as reopened:
        events = reopened.pending()
    assert [e.person_id for e in events] == ["lin_manuel_miranda"]
    assert events[0].device_id == "door-1"
    assert events[0].kind.value == "in"
