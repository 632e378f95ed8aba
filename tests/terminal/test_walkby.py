"""Several people walk past the terminal: a clip generated from people/ photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.capture import ReplayCameraConfig, create_source
from edge.capture.synth import make_walkby_clip
from edge.config import EdgeConfig
from edge.daemon.runner import EdgeDaemon
from edge.feedback import LogFeedback, Signal
from edge.recognize.analyzer import FaceAnalyzer
from edge.store import EdgeStore

from .conftest import enrol

pytestmark = [pytest.mark.faces, pytest.mark.slow]

ENROLLED = [
    "barack_obama",
    "joe_biden",
    "john_salley",
    "john_savage",
    "john_schneider",
    "john_shimkus",
    "john_simm",
    "kit_harington",
]
STRANGERS = ["alex_lacamoire", "rose_leslie", "lin_manuel_miranda"]


def _photos(faces_dir: Path, person: str) -> list[Path]:
    return sorted((faces_dir / "people" / person).iterdir())


def _run(config: EdgeConfig, clip: Path) -> tuple[EdgeDaemon, list[Signal]]:
    store = EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id=config.device.id
    )
    feedback = LogFeedback()
    signalled: list[Signal] = []
    feedback.when_signalled = signalled.append
    source = create_source(ReplayCameraConfig(path=clip, pace="fast"))
    daemon = EdgeDaemon(config, store=store, source=source, feedback=feedback)
    assert daemon.run() == 0
    return daemon, signalled


def test_everyone_enrolled_recorded_once_strangers_never(
    tmp_path: Path, faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    # Enrol from the first photo; walk past with a different one where there is one.
    walkers = [(p, _photos(faces_dir, p)[min(1, len(_photos(faces_dir, p)) - 1)]) for p in ENROLLED]
    walkers += [(p, _photos(faces_dir, p)[0]) for p in STRANGERS]
    clip = tmp_path / "walkby.mp4"
    segments = make_walkby_clip(walkers, clip, seed=3)
    assert [s.person for s in segments] == ENROLLED + STRANGERS

    config = EdgeConfig.model_validate({"device": {"id": "lobby"}, "data_dir": str(tmp_path)})
    with EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="lobby"
    ) as store:
        enrol(store, analyzer, [(p, _photos(faces_dir, p)[:1]) for p in ENROLLED])

    first, signalled = _run(config, clip)
    recorded = [d.person_id for d in first.counters.decisions if d.person_id is not None]
    assert sorted(recorded) == sorted(ENROLLED)
    assert first.counters.recorded == len(ENROLLED)
    assert signalled.count(Signal.ACCEPTED) == len(ENROLLED)
    # Each decision happened while that person was on screen.
    by_person = {s.person: s for s in segments}
    for decision in first.counters.decisions:
        if decision.person_id is not None:
            segment = by_person[decision.person_id]
            assert segment.first_frame <= decision.frame_index <= segment.last_frame + 2

    # Second pass within the cooldown, after a daemon restart: nothing new is written.
    second, signalled_again = _run(config, clip)
    assert second.counters.recorded == 0
    assert second.counters.already_recorded == len(ENROLLED)
    assert Signal.ACCEPTED not in signalled_again
    with EdgeStore.open(
        config.store.resolve_path(config.data_dir), config.store, device_id="lobby"
    ) as store:
        events = store.pending()
    assert sorted(e.person_id for e in events) == sorted(ENROLLED)
    assert not set(STRANGERS) & {e.person_id for e in events}
