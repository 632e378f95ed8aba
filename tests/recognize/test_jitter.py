"""Jittered enrolment templates: made from photos only, never on the terminal's live path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.config import load_config
from edge.errors import ConfigError
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import RecognitionConfig
from edge.recognize.embedder import ENROLMENT_JITTERS, MAX_JITTERS, check_jitters
from edge.recognize.identify import build_gallery
from edge.recognize.image import read_image
from edge.recognize.loop import RecognitionLoop, Verdict
from edge.recognize.matcher import Gallery, Matcher
from edge.recognize.types import Image
from sync_server.config import ServerConfig
from sync_server.enrolment import Enroller

from .conftest import PeopleSet

CLIP = "video/short_hamilton_clip.mp4"
LMM = "people/lin_manuel_miranda/lmm1.png"


@dataclass(frozen=True)
class _Frame:
    image: Image
    index: int

    @property
    def monotonic(self) -> float:
        return self.index / 29.97


# --- the count and where it is checked ------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, 5, MAX_JITTERS])
def test_check_jitters_takes_whole_counts_in_range(value: int) -> None:
    assert check_jitters(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "jitters must be 0-100, not -1"),
        (MAX_JITTERS + 1, "jitters must be 0-100, not 101"),
        (True, "whole number 0-100, not True"),
        (2.5, "whole number 0-100, not 2.5"),
        ("5", "whole number 0-100, not '5'"),
    ],
)
def test_check_jitters_refuses_anything_else(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_jitters(value)
    with pytest.raises(ValueError, match=message):  # the builtin a caller would catch
        check_jitters(value)


def test_server_config_key_defaults_to_the_enrolment_count_and_is_bounded() -> None:
    assert ServerConfig().enrolment_jitters == ENROLMENT_JITTERS
    assert ENROLMENT_JITTERS > 1  # 0 and 1 are the plain descriptor: no jittering at all
    from_env = load_config(ServerConfig, None, environ={"HADIR_ENROLMENT_JITTERS": "0"})
    assert from_env.enrolment_jitters == 0
    for bad in (-1, MAX_JITTERS + 1):
        with pytest.raises(ValidationError, match="enrolment_jitters"):
            ServerConfig(enrolment_jitters=bad)
    with pytest.raises(ConfigError, match="enrolment_jitters"):
        load_config(ServerConfig, None, environ={"HADIR_ENROLMENT_JITTERS": "many"})


def test_enroller_refuses_a_bad_count() -> None:
    with pytest.raises(ConfigError, match="jitters must be 0-100, not -3"):
        Enroller(RecognitionConfig(), 1, jitters=-3)


def test_describe_refuses_a_bad_count_before_dlib_sees_it(analyzer: FaceAnalyzer) -> None:
    before = dict(analyzer.embedder.described)
    image = np.zeros((150, 150, 3), dtype=np.uint8)
    with pytest.raises(ConfigError, match="not -1"):
        analyzer.embedder.describe(image, None, jitters=-1)
    assert dict(analyzer.embedder.described) == before


# --- real faces -----------------------------------------------------------------------------


@pytest.mark.faces
def test_a_jittered_template_is_closer_to_the_persons_other_photos(
    faces_dir: Path, analyzer: FaceAnalyzer, people: PeopleSet
) -> None:
    """Each person enrolled from their first photo, plain and jittered; every other photo
    of theirs is probed as the terminal would, unjittered. Averaged over the probes, the
    jittered template is the closer one (scripts/measure_jitter.py has the whole table)."""
    plain: list[float] = []
    jittered: list[float] = []
    for rows in people.by_person.values():
        if len(rows) < 2:
            continue
        first_path, first_plain = rows[0]
        template = analyzer.enrolment_descriptor(
            read_image(first_path), name=str(first_path), jitters=ENROLMENT_JITTERS
        )
        for _, probe in rows[1:]:
            plain.append(float(np.linalg.norm(probe - first_plain)))
            jittered.append(float(np.linalg.norm(probe - template)))
    print(
        f"\n{len(plain)} genuine probes: mean distance {np.mean(plain):.4f} to the plain "
        f"template, {np.mean(jittered):.4f} to the template of {ENROLMENT_JITTERS} jitters; "
        f"largest {max(plain):.3f} / {max(jittered):.3f}"
    )
    assert np.mean(jittered) < np.mean(plain)



@pytest.mark.faces
def test_the_live_loop_never_jitters_and_matches_a_jittered_template(
    faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    """The terminal's loop describes live frames with its own embedder: every descriptor it
    computes is a plain one, and it recognises him against a jittered template (one
    descriptor space) while the stranger later in the clip stays unknown."""
    before = analyzer.embedder.described[ENROLMENT_JITTERS]
    photo = read_image(faces_dir / LMM)
    template = analyzer.enrolment_descriptor(photo, jitters=ENROLMENT_JITTERS)
    assert analyzer.embedder.described[ENROLMENT_JITTERS] == before + 1

    config = RecognitionConfig.model_validate({"liveness": {"mode": "off"}})
    loop = RecognitionLoop(config, Matcher(Gallery.from_mapping({"lin_manuel_miranda": template})))
    capture = cv2.VideoCapture(str(faces_dir / CLIP))
    decisions = []
    index = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        decisions += loop.process(_Frame(np.ascontiguousarray(bgr[:, :, ::-1]), index))
        index += 1
    capture.release()

    assert loop.embedder is not analyzer.embedder
    assert set(loop.embedder.described) == {0}, loop.embedder.described
    assert loop.embedder.described[0] >= 4  # it did describe: his looks and the stranger's
    accepted = [d.person_id for d in decisions if d.verdict is Verdict.ACCEPTED]
    assert accepted == ["lin_manuel_miranda"]
    assert any(d.verdict is Verdict.UNKNOWN for d in decisions)


@pytest.mark.faces
def test_identify_gallery_is_made_with_the_count_given(
    faces_dir: Path, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    gallery = tmp_path / "gallery"
    (gallery / "lin_manuel_miranda").mkdir(parents=True)
    (gallery / "lin_manuel_miranda" / "lmm1.png").symlink_to(faces_dir / LMM)
    before = dict(analyzer.embedder.described)
    built = build_gallery(analyzer, gallery, jitters=3)
    assert built.templates_per_person == {"lin_manuel_miranda": 1}
    after = analyzer.embedder.described
    assert after[3] == before.get(3, 0) + 1
    assert after[0] == before.get(0, 0)


@pytest.mark.faces
def test_server_enrolment_jitters_with_its_configured_count(faces_dir: Path) -> None:
    """The server's template of a photo: with 0 the very descriptor the edge computes, with
    the default count a different, nearby point of the same space."""
    photo = faces_dir / LMM
    config = RecognitionConfig()  # the server's own detector settings
    plain = FaceAnalyzer(config).enrolment_descriptor(read_image(photo))
    unjittered = Enroller(config, 1, jitters=0)
    jittered = Enroller(config, 1, jitters=ENROLMENT_JITTERS)
    try:
        same = unjittered.describe(photo.read_bytes(), photo.name)
        moved = jittered.describe(photo.read_bytes(), photo.name)
    finally:
        unjittered.close()
        jittered.close()
    np.testing.assert_array_equal(same, plain)
    gap = float(np.linalg.norm(moved - plain))
    # Far below the matching threshold: the same face, not a new point in another space.
    assert 0 < gap < RecognitionConfig().matching.threshold / 2


@pytest.mark.parametrize("given", ["101", "-1", "five"])
def test_identify_refuses_a_bad_jitter_count(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge.cli import main

    with pytest.raises(SystemExit) as done:
        main(["identify", "--gallery", str(tmp_path), "--jitters", given, str(tmp_path)])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "argument --jitters: jitters must be" in err
    assert given in err
