"""EdgeDaemon in-process: what it keeps while it runs for months."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory
from structlog.testing import capture_logs

from edge.capture import ReplayCameraConfig, create_source
from edge.config import EdgeConfig
from edge.daemon.runner import DECISIONS_KEPT, EdgeDaemon, liveness_evidence
from edge.feedback import GPIOFeedbackConfig, create_feedback
from edge.feedback.gpio import GPIOFeedback
from edge.protocol import MAX_LIVENESS_REASONS, LivenessEvidence
from edge.recognize.idle import GateReason
from edge.recognize.liveness import LivenessVerdict
from edge.recognize.loop import Decision, Verdict
from edge.recognize.matcher import Match
from edge.recognize.scanner import ScanWorker
from edge.store import EdgeStore, RecordResult
from tests.feedback.conftest import BUZZER, GREEN, RED, states


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


def test_the_daemon_starts_its_scan_worker_and_stops_it_on_close(tmp_path: Path) -> None:
    """A camera (here a real-time replay) gets the worker; a fast replay scans in the
    loop's process, so its outcome does not depend on how fast the worker answers."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
    config = EdgeConfig.model_validate(
        {
            "device": {"id": "door-1"},
            "data_dir": str(tmp_path),
            "recognition": {"tracking": {"scan_worker": "on"}},
        }
    )
    made = EdgeDaemon(
        config,
        store=EdgeStore.open(":memory:", config.store, device_id="door-1"),
        source=create_source(ReplayCameraConfig(path=frames, pace="realtime")),
        feedback=create_feedback(config.feedback),
    )
    worker = made.loop.scanner
    assert isinstance(worker, ScanWorker)
    running = worker.exitcode is None
    assert running
    made.close()
    made.close()
    assert not worker.alive
    assert worker.exitcode is not None  # stopped and reaped, not left behind

    fast = EdgeDaemon(
        config,
        store=EdgeStore.open(":memory:", config.store, device_id="door-1"),
        source=create_source(ReplayCameraConfig(path=frames, pace="fast")),
        feedback=create_feedback(config.feedback),
    )
    assert fast.loop.scanner is None
    fast.close()


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


# -- liveness: what the daemon does with a verdict ---------------------------------------------

ATTACK = LivenessVerdict(score=0.12, live=False, reasons=("frame_edges", "flat_motion"), frames=9)
LIVE = LivenessVerdict(score=0.91, live=True, frames=9)


@dataclass
class Terminal:
    daemon: EdgeDaemon
    pins: MockFactory
    recorded: list[RecordResult]

    def act(self, decision: Decision) -> list[MutableMapping[str, Any]]:
        """One decision through the daemon; its log lines, once its feedback has played."""
        with capture_logs() as logs:
            self.daemon._act(decision)
        assert self.daemon.feedback.wait_idle(timeout=20)
        return logs

    def pin_states(self) -> tuple[list[object], list[object], list[object]]:
        return states(self.pins, GREEN), states(self.pins, RED), states(self.pins, BUZZER)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[str], Terminal]]:
    made: list[Terminal] = []

    def _make(mode: str) -> Terminal:
        frames = tmp_path / f"frames-{mode}"
        frames.mkdir()
        cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
        config = EdgeConfig.model_validate(
            {
                "device": {"id": "door-1"},
                "data_dir": str(tmp_path),
                "recognition": {"liveness": {"mode": mode}},
            }
        )
        pins = MockFactory()
        feedback = GPIOFeedback(
            GPIOFeedbackConfig(green_pin=GREEN, red_pin=RED, buzzer_pin=BUZZER, time_scale=0),
            pin_factory=pins,
        )
        daemon = EdgeDaemon(
            config,
            store=EdgeStore.open(tmp_path / f"edge-{mode}.sqlite3", device_id="door-1"),
            source=create_source(ReplayCameraConfig(path=frames, pace="fast")),
            feedback=feedback,
        )
        made.append(Terminal(daemon, pins, []))
        daemon.recorded_listeners.append(made[-1].recorded.append)
        return made[-1]

    yield _make
    for each in made:
        each.daemon.close()
        each.pins.reset()


def test_an_unknown_face_decided_after_it_left_is_counted_without_feedback(
    terminal: Callable[[str], Terminal],
) -> None:
    term = terminal("off")
    term.act(dataclasses.replace(_unknown(3), departed=True))
    assert term.daemon.counters.unknown == 1
    assert term.pin_states() == ([F], [F], [F])  # nobody there: no light, no beep
    term.act(_unknown(4))
    assert term.daemon.counters.unknown == 2
    assert T in term.pin_states()[1]  # a face still in view is told it is not known


def _recognised(person: str, liveness: LivenessVerdict | None, track_id: int = 7) -> Decision:
    match = Match(person_id=person, distance=0.3814, runner_up_id=None, runner_up_distance=0.9)
    return Decision(
        verdict=Verdict.ACCEPTED,
        track_id=track_id,
        person_id=person,
        match=match,
        frame_index=40,
        monotonic=12.0,
        looks=2,
        liveness=liveness,
    )


def _lines(logs: list[MutableMapping[str, Any]], event: str) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


F, T = False, True


def test_refuse_mode_never_records_an_attack(terminal: Callable[[str], Terminal]) -> None:
    term = terminal("refuse")
    logs = term.act(_recognised("alice", ATTACK))

    assert term.daemon.store.events() == []
    assert term.daemon.store.backlog().count == 0
    assert term.recorded == []
    (line,) = _lines(logs, "presentation_attack_refused")
    assert line["log_level"] == "warning"
    assert {k: line[k] for k in ("track_id", "claimed_person_id", "score", "reason")} == {
        "track_id": 7,
        "claimed_person_id": "alice",
        "score": 0.12,
        "reason": "frame_edges,flat_motion",
    }
    assert line["distance"] == 0.381
    assert _lines(logs, "attendance") == []
    stats = term.daemon.stats()
    assert (stats["refused"], stats["recorded"], stats["unknown"]) == (1, 0, 0)
    # Steady red, two beeps: the refused pattern, no green.
    assert term.pin_states() == ([F], [F, T, F], [F, T, F, T, F])


def test_refuse_mode_records_a_live_face_with_its_evidence(
    terminal: Callable[[str], Terminal],
) -> None:
    term = terminal("refuse")
    logs = term.act(_recognised("alice", LIVE))

    (event,) = term.daemon.store.pending()
    assert event.liveness == LivenessEvidence(score=0.91, passed=True, reasons=[])
    assert [r.event for r in term.recorded] == [event]
    assert _lines(logs, "presentation_attack_refused") == _lines(logs, "liveness_flagged") == []
    assert term.daemon.stats()["refused"] == 0
    assert term.pin_states() == ([F, T, F], [F], [F, T, F])  # accepted


def test_flag_mode_records_an_attack_marked_and_says_so_once(
    terminal: Callable[[str], Terminal],
) -> None:
    term = terminal("flag")
    logs = term.act(_recognised("alice", ATTACK))

    (event,) = term.daemon.store.pending()
    assert event.liveness == LivenessEvidence(
        score=0.12, passed=False, reasons=["frame_edges", "flat_motion"]
    )
    (line,) = _lines(logs, "liveness_flagged")
    assert (line["claimed_person_id"], line["track_id"]) == ("alice", 7)
    assert (line["score"], line["reason"], line["distance"]) == (
        0.12,
        "frame_edges,flat_motion",
        0.381,
    )
    assert line["event_id"] == str(event.id)
    assert _lines(logs, "presentation_attack_refused") == []
    stats = term.daemon.stats()
    assert (stats["recorded"], stats["refused"]) == (1, 0)
    # The person was recorded: the accepted signal, green with one beep.
    assert term.pin_states() == ([F, T, F], [F], [F, T, F])

    # A repeat within the cooldown writes nothing and flags nothing new.
    again = term.act(_recognised("alice", ATTACK, track_id=8))
    assert term.daemon.store.backlog().count == 1
    assert _lines(again, "liveness_flagged") == []
    assert term.daemon.stats()["already_recorded"] == 1


@pytest.mark.parametrize(
    ("mode", "verdict"), [("off", ATTACK), ("flag", None), ("refuse", None)]
)
def test_without_a_check_the_event_has_no_liveness(
    terminal: Callable[[str], Terminal], mode: str, verdict: LivenessVerdict | None
) -> None:
    term = terminal(mode)
    logs = term.act(_recognised("alice", verdict))

    (event,) = term.daemon.store.pending()
    assert event.liveness is None
    assert _lines(logs, "presentation_attack_refused") == _lines(logs, "liveness_flagged") == []
    assert term.daemon.stats()["recorded"] == 1
    assert term.pin_states() == ([F, T, F], [F], [F, T, F])


def test_the_status_line_counts_refused_faces(terminal: Callable[[str], Terminal]) -> None:
    term = terminal("refuse")
    term.act(_recognised("alice", ATTACK, track_id=1))
    term.act(_recognised("bob", ATTACK, track_id=2))
    with capture_logs() as logs:
        term.daemon.log_status()  # what SIGUSR1 asks for
    (status,) = _lines(logs, "daemon_status")
    assert (status["refused"], status["recorded"]) == (2, 0)


def test_the_status_line_says_how_the_idle_gate_spent_the_frames(daemon: EdgeDaemon) -> None:
    assert daemon.run(max_frames=5) == 0
    with capture_logs() as logs:
        daemon.log_status()
    (status,) = _lines(logs, "daemon_status")
    assert status["frames"] >= 1
    assert status["idle"] == daemon.loop.stats()["idle"]
    # Every frame the loop saw is counted under the one reason the gate gave for it.
    by_reason = [status["idle"].get(reason.value, 0) for reason in GateReason]
    assert sum(by_reason) == status["frames"]


def test_odd_detector_values_cost_the_value_not_the_punch() -> None:
    odd = LivenessVerdict(
        score=1.0000001,
        live=False,
        reasons=("Not Allowed", *(f"cue_{n}" for n in range(12))),
    )
    evidence = liveness_evidence(odd)
    assert evidence.score == 1.0
    assert evidence.passed is False
    assert evidence.reasons == [f"cue_{n}" for n in range(MAX_LIVENESS_REASONS)]
    assert liveness_evidence(LivenessVerdict(score=float("nan"), live=False)).score == 0.0
