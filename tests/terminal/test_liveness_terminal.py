"""A photo held up to a real terminal: replay camera, real store, mock GPIO, real detector.

The picture is a real attack still (``liveness/attacks/vietmoney_fake_3.jpg``: a washed-out
recapture of a man) and the man is enrolled from his live photo (``live/vietmoney_live_3``),
so the matcher recognises him in it. In ``refuse`` mode nothing may be recorded; in
``flag`` mode the event is recorded and carries the failed check.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from edge.capture import ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.runner import EdgeDaemon
from edge.feedback import Signal
from edge.feedback.config import GPIOFeedbackConfig
from edge.feedback.gpio import GPIOFeedback
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.image import read_image
from edge.store import EdgeStore

from .conftest import enrol

pytestmark = pytest.mark.faces


def _held_still(faces_dir: Path, folder: Path, frames: int = 40) -> Path:
    """The attack photo as a fixed camera sees it, frame after frame (fresh sensor noise),
    scaled to a terminal's 720p."""
    photo = read_image(faces_dir / "liveness/attacks/vietmoney_fake_3.jpg")
    scale = 720 / photo.shape[0]
    size = (round(photo.shape[1] * scale), 720)
    image = cv2.resize(photo, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(frames):
        noisy = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"frame_{index:06d}.png"), cv2.cvtColor(noisy, cv2.COLOR_RGB2BGR))
    return folder


@pytest.mark.parametrize("mode", ["refuse", "flag"])
def test_a_held_up_photo_is_refused_or_flagged(
    tmp_path: Path, faces_dir: Path, analyzer: FaceAnalyzer, mode: str
) -> None:
    config = EdgeConfig.model_validate(
        {
            "device": {"id": "door-1"},
            "data_dir": str(tmp_path),
            "recognition": {"liveness": {"mode": mode}},
        }
    )
    store = EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="door-1"
    )
    enrol(store, analyzer, [("budi", [faces_dir / "liveness/live/vietmoney_live_3.png"])])
    pins = MockFactory()
    feedback = GPIOFeedback(
        GPIOFeedbackConfig(green_pin=17, red_pin=27, buzzer_pin=22, time_scale=0),
        pin_factory=pins,
    )
    signalled: list[Signal] = []
    feedback.when_signalled = signalled.append
    clip = _held_still(faces_dir, tmp_path / "frames")
    source = create_source(ReplayCameraConfig(path=clip, pace="fast", fps=15))
    daemon = EdgeDaemon(config, store=store, source=source, feedback=feedback)

    assert daemon.run() == 0

    claimed = [d for d in daemon.counters.decisions if d.person_id == "budi"]
    assert len(claimed) == 1, "the matcher must recognise him in the photo"
    verdict = claimed[0].liveness
    assert verdict is not None
    assert not verdict.live
    assert "no_motion" in verdict.reasons
    with EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="door-1"
    ) as reopened:
        events = reopened.pending()
    if mode == "refuse":
        assert events == []
        assert signalled == [Signal.REFUSED]
        assert daemon.stats()["refused"] == 1
    else:
        assert [e.person_id for e in events] == ["budi"]
        evidence = events[0].liveness
        assert evidence is not None
        assert not evidence.passed
        assert "no_motion" in evidence.reasons
        assert signalled == [Signal.ACCEPTED]
