"""The demo's story: the clip it composes (ground truth, enrolment photos) and its verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.demo import (
    FPS,
    FRAME_SIZE,
    LIVE_CLIPS,
    Cast,
    Role,
    Scene,
    cast_from_shared_faces,
    compose_clip,
    judge,
)

PHOTO = Path("photo.png")
CLIP = Path("clip.mp4")


def _cast() -> Cast:
    return Cast(
        {"ann": [PHOTO], "bob": [PHOTO], "absent": [PHOTO]},
        [
            Scene("ann", Role.LIVE, CLIP),
            Scene("bob", Role.LIVE, CLIP),
            Scene("stranger", Role.STRANGER, CLIP),
            Scene("absent", Role.ATTACK, PHOTO, attack_kind="phone_photo"),
        ],
        "test",
    )


def _event(person: str, passed: bool | None = True, score: float = 0.9) -> dict[str, Any]:
    event: dict[str, Any] = {"person_id": person, "corrected_time": "2026-12-01T09:00:00+00:00"}
    if passed is not None:
        event |= {"liveness_passed": passed, "liveness_score": score}
        event["liveness_reasons"] = "" if passed else "frame_edges,flat_motion"
    return event


def test_flag_mode_passes_when_the_attack_is_recorded_and_flagged() -> None:
    events = [_event("ann"), _event("bob"), _event("absent", passed=False, score=0.12)]
    verdict = judge(_cast(), "flag", events, refused=0)
    assert verdict.ok, verdict.lines
    text = "\n".join(verdict.lines)
    assert "the held-up photo of absent was recorded and flagged for review" in text
    assert "the stranger (stranger) was not recorded" in text
    assert "needs review 0.12 (frame_edges,flat_motion)" in text
    assert "flagged for review: 1 | refused at the terminal: 0" in text


def test_flag_mode_fails_when_the_attack_passes_as_live() -> None:
    events = [_event("ann"), _event("bob"), _event("absent", passed=True)]
    verdict = judge(_cast(), "flag", events, refused=0)
    assert not verdict.ok
    assert "was recorded as a live punch: the attack got through" in "\n".join(verdict.lines)
    assert verdict.lines[-1].startswith("demo FAILED")


def test_flag_mode_fails_when_the_server_does_not_say_whether_it_was_flagged() -> None:
    events = [_event("ann"), _event("bob"), _event("absent", passed=None)]
    verdict = judge(_cast(), "flag", events, refused=0)
    assert not verdict.ok
    assert "recorded with no liveness result from the terminal" in "\n".join(verdict.lines)


def test_a_flagged_live_person_is_a_false_alarm() -> None:
    events = [_event("ann", passed=False), _event("bob"), _event("absent", passed=False)]
    verdict = judge(_cast(), "flag", events, refused=0)
    assert not verdict.ok
    assert "live faces flagged as attacks: ann" in "\n".join(verdict.lines)


def test_refuse_mode_passes_with_a_refusal_and_no_event_for_the_colleague() -> None:
    verdict = judge(_cast(), "refuse", [_event("ann"), _event("bob")], refused=1)
    assert verdict.ok, verdict.lines
    assert verdict.lines[-1] == (
        "demo OK: all 2 enrolled people who walked up were recorded and synced; "
        "the stranger (stranger) was not recorded; the held-up photo of absent was refused"
    )


def test_refuse_mode_fails_when_nothing_was_refused_or_the_attack_was_recorded() -> None:
    unseen = judge(_cast(), "refuse", [_event("ann"), _event("bob")], refused=0)
    assert not unseen.ok
    assert "neither recognised nor refused" in "\n".join(unseen.lines)
    events = [_event("ann"), _event("bob"), _event("absent", passed=False)]
    assert not judge(_cast(), "refuse", events, refused=1).ok


def test_off_mode_says_the_photo_got_through() -> None:
    events = [_event("ann", None), _event("bob", None), _event("absent", None)]
    verdict = judge(_cast(), "off", events, refused=0)
    assert not verdict.ok
    assert "the liveness check is off, so nothing stops a photo" in "\n".join(verdict.lines)


def test_missing_people_and_intruders_fail() -> None:
    events = [_event("ann"), _event("stranger"), _event("absent", passed=False)]
    verdict = judge(_cast(), "flag", events, refused=0)
    text = "\n".join(verdict.lines)
    assert not verdict.ok
    assert "NOT recorded: bob walked up live" in text
    assert "recorded but never shown live: stranger" in text


def test_a_photo_only_demo_claims_no_stranger_and_no_walk_up() -> None:
    cast = Cast(
        {"eileen_collins": [PHOTO]},
        [Scene("eileen_collins", Role.ATTACK, PHOTO, attack_kind="print_moving")],
        "test",
    )
    verdict = judge(cast, "flag", [_event("eileen_collins", passed=False, score=0.2)], refused=0)
    assert verdict.ok, verdict.lines
    assert verdict.lines[-1] == (
        "demo OK: the held-up photo of eileen_collins was recorded and flagged for review"
    )
    assert "stranger" not in "\n".join(verdict.lines)
    refused = judge(cast, "refuse", [], refused=1)
    assert refused.lines[-1] == "demo OK: the held-up photo of eileen_collins was refused"


@pytest.mark.faces
@pytest.mark.slow
def test_the_live_scenes_show_one_big_face_each_and_nothing_between(
    tmp_path: Path, faces_dir: Path
) -> None:
    import dlib

    cast = cast_from_shared_faces(faces_dir, tmp_path)
    # Enrolled from a photo of their own clip's first frame, at the clip's own size.
    for name in LIVE_CLIPS:
        photo = cast.enrolled[Path(name).stem][0]
        assert photo.parent == tmp_path / "enrolment"
        assert photo.suffix == ".png"
        capture = cv2.VideoCapture(str(faces_dir / "video" / name))
        ok, first = capture.read()
        capture.release()
        assert ok
        written = cv2.imread(str(photo))
        assert written is not None
        assert np.array_equal(written, first)
    attack = [s for s in cast.scenes if s.role is Role.ATTACK]
    assert [s.person for s in attack] == ["barack_obama"]
    assert attack[0].source not in cast.enrolled["barack_obama"]
    assert "barack_obama" not in cast.people(Role.LIVE)

    live = [s for s in cast.scenes if s.role is not Role.ATTACK]
    clip = tmp_path / "live.mp4"
    shots = compose_clip(live, clip)
    assert [shot.scene for shot in shots] == live
    detector = dlib.get_frontal_face_detector()
    capture = cv2.VideoCapture(str(clip))
    widths: dict[int, list[int]] = {}
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert (frame.shape[1], frame.shape[0]) == FRAME_SIZE
        if index % 4 == 0:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            widths[index] = [rect.width() for rect in detector(grey, 0)]
        index += 1
    capture.release()
    assert index == shots[-1].last_frame + 1 + shots[0].first_frame
    assert abs(shots[0].seconds()[1] - shots[0].seconds()[0] - 3.0) < 1 / FPS
    for shot in shots:
        seen = [widths[i] for i in widths if shot.first_frame <= i <= shot.last_frame]
        assert all(len(faces) == 1 and faces[0] >= 100 for faces in seen), (shot, seen)
    between = [i for i in widths if not any(s.first_frame <= i <= s.last_frame for s in shots)]
    assert between
    assert all(widths[i] == [] for i in between)
