"""EdgeDaemon in-process: what it keeps while it runs for months."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.runner import DECISIONS_KEPT, EdgeDaemon
from edge.feedback import create_feedback
from edge.recognize.loop import Decision, Verdict
from edge.recognize.matcher import Match
from edge.store import EdgeStore


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[EdgeDaemon]:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
    config = EdgeConfig.model_validate({"device": {"id": "door-1"}, "data_dir": str(tmp_path)})
    made = EdgeDaemon(
        config,
        store=EdgeStore.open(":memory:", config.store, device_id="door-1"),
        source=create_source(ReplayCameraConfig(path=frames, pace="fast")),
        feedback=create_feedback(config.feedback),
    )
    yield made
    made.close()


def _unknown(n: int) -> Decision:
    match = Match(person_id="p", distance=0.9, runner_up_id=None, runner_up_distance=float("inf"))
    return Decision(
        verdict=Verdict.UNKNOWN,
        track_id=n,
        person_id=None,
        match=match,
        frame_index=n,
        monotonic=float(n),
        looks=3,
    )


def test_decisions_kept_are_bounded_and_counts_stay_totals(daemon: EdgeDaemon) -> None:
    total = DECISIONS_KEPT * 4 + 7
    for n in range(total):
        daemon._act(_unknown(n))
    kept = daemon.counters.decisions
    assert len(kept) == DECISIONS_KEPT
    assert [d.track_id for d in kept] == list(range(total - DECISIONS_KEPT, total))
    assert daemon.counters.unknown == total
    assert daemon.stats()["unknown"] == total
