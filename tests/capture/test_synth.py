"""Synthetic walk-by clips: frame counts, replay, and HOG ground truth per segment and gap."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.capture import EndOfStreamError, ReplayCameraConfig, create_source
from edge.capture.frame import RGBImage
from edge.capture.synth import FRAME_NAME, Segment, make_walkby_clip
from edge.errors import NoFaceError, UnreadableImageError
from edge.recognize.config import HogDetectorConfig
from edge.recognize.detector import HogDetector
from edge.recognize.types import Detection

FPS = 10.0
PER_PERSON = 10  # 1 s at 10 fps
PER_GAP = 5  # 0.5 s
SIZE = (640, 480)


def walkers(faces_dir: Path) -> list[tuple[str, Path]]:
    """Two 150x150 LFW crops (125 px faces) and two large photos (256 and 311 px faces)."""
    people = faces_dir / "people"
    return [
        ("john_salley", next(iter(sorted((people / "john_salley").iterdir())))),
        ("barack_obama", people / "barack_obama" / "obama.jpg"),
        ("john_simm", next(iter(sorted((people / "john_simm").iterdir())))),
        ("lin_manuel_miranda", people / "lin_manuel_miranda" / "lmm1.png"),
    ]


def replay_frames(path: Path) -> list[RGBImage]:
    source = create_source(ReplayCameraConfig.model_validate({"path": path, "pace": "fast"}))
    frames = []
    with source:
        while True:
            try:
                frames.append(source.read().image)
            except EndOfStreamError:
                return frames


@pytest.fixture(scope="module")
def hog() -> HogDetector:
    # The daemon's own detector at upsample 0, as a terminal runs it.
    return HogDetector(HogDetectorConfig(upsample=0))


@pytest.fixture(scope="module")
def clip(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Segment]]:
    out = tmp_path_factory.mktemp("synth") / "walkby.mp4"
    segments = make_walkby_clip(
        walkers(faces_dir), out, size=SIZE, fps=FPS, seconds_per_person=1.0, gap_seconds=0.5
    )
    return out, segments


@pytest.fixture(scope="module")
def clip_frames(clip: tuple[Path, list[Segment]]) -> list[RGBImage]:
    return replay_frames(clip[0])


def gaps(segments: list[Segment], total: int) -> list[range]:
    edges = [-1, *itertools.chain.from_iterable((s.first_frame, s.last_frame) for s in segments)]
    edges.append(total)
    return [range(a + 1, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.faces
def test_segments_are_the_ground_truth_layout(
    faces_dir: Path, clip: tuple[Path, list[Segment]]
) -> None:
    _, segments = clip
    assert [(s.person, s.photo) for s in segments] == walkers(faces_dir)
    assert [(s.first_frame, s.last_frame) for s in segments] == [
        (5, 14),
        (20, 29),
        (35, 44),
        (50, 59),
    ]
    assert all(len(s.frames) == PER_PERSON for s in segments)
    assert segments[0].middle == 9
    assert 5 in segments[0]
    assert 15 not in segments[0]


@pytest.mark.faces
def test_the_video_has_the_expected_frames_and_opencv_reads_it(
    clip: tuple[Path, list[Segment]],
) -> None:
    path, _ = clip
    expected = 4 * PER_PERSON + 5 * PER_GAP
    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.isOpened()
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == expected
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
        assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == SIZE[0]
        assert int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE[1]
    finally:
        capture.release()


@pytest.mark.faces
def test_replay_source_plays_every_frame(
    clip: tuple[Path, list[Segment]], clip_frames: list[RGBImage]
) -> None:
    path, _ = clip
    assert len(clip_frames) == 4 * PER_PERSON + 5 * PER_GAP
    assert all(f.shape == (SIZE[1], SIZE[0], 3) and f.dtype == np.uint8 for f in clip_frames)
    source = create_source(ReplayCameraConfig.model_validate({"path": path, "pace": "fast"}))
    with source:
        assert source.nominal_fps == pytest.approx(FPS)


@pytest.mark.faces
def test_hog_finds_one_face_mid_segment_and_none_in_gaps(
    clip: tuple[Path, list[Segment]], clip_frames: list[RGBImage], hog: HogDetector
) -> None:
    _, segments = clip
    for segment in segments:
        found = hog.detect(clip_frames[segment.middle])
        assert len(found) == 1, (segment, found)
        # Normalised from 125-311 px faces in the photos to HOG's comfortable range.
        assert 90 <= found[0].box.width <= 170, (segment, found)
    for gap in gaps(segments, len(clip_frames)):
        assert len(gap) == PER_GAP
        for index in (gap[0], gap[len(gap) // 2], gap[-1]):
            assert hog.detect(clip_frames[index]) == [], index


@pytest.mark.faces
def test_faces_move_and_grow_within_a_segment(
    clip: tuple[Path, list[Segment]], clip_frames: list[RGBImage], hog: HogDetector
) -> None:
    _, segments = clip
    for segment in segments:
        first = one_face(hog, clip_frames[segment.first_frame])
        last = one_face(hog, clip_frames[segment.last_frame])
        assert (first.box.left, first.box.top) != (last.box.left, last.box.top), segment
        assert last.box.width >= first.box.width, segment
        # Consecutive frames differ: movement plus sensor-like noise.
        assert not np.array_equal(
            clip_frames[segment.first_frame], clip_frames[segment.first_frame + 1]
        )


def one_face(hog: HogDetector, image: RGBImage) -> Detection:
    found = hog.detect(image)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.faces
def test_png_folder_replays_and_is_reproducible(
    faces_dir: Path, tmp_path: Path, hog: HogDetector
) -> None:
    photos = walkers(faces_dir)[:2]

    def make(folder: str, seed: int) -> list[Segment]:
        return make_walkby_clip(
            photos,
            tmp_path / folder,
            size=(320, 240),
            fps=5.0,
            gap_seconds=0.4,
            face_width=100.0,
            seed=seed,
        )

    segments, again, other = make("a", 3), make("b", 3), make("c", 4)
    assert segments == again
    assert [(s.first_frame, s.last_frame) for s in segments] == [(2, 6), (9, 13)]

    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [FRAME_NAME.format(i) for i in range(16)]
    frames = replay_frames(tmp_path / "a")
    assert len(frames) == 16
    assert all(f.shape == (240, 320, 3) for f in frames)
    # Lossless and seeded: the same arguments give the same pixels, another seed does not.
    assert all(
        np.array_equal(a, b) for a, b in zip(frames, replay_frames(tmp_path / "b"), strict=True)
    )
    assert not np.array_equal(frames[4], replay_frames(tmp_path / "c")[4])
    for segment in segments:
        assert len(hog.detect(frames[segment.middle])) == 1
    assert hog.detect(frames[0]) == []
    assert other[0].person == photos[0][0]


@pytest.mark.faces
def test_a_photo_without_a_face_is_refused(faces_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(NoFaceError, match=r"dogs\.jpg"):
        make_walkby_clip([("dog", faces_dir / "scenes" / "dogs.jpg")], tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_an_unreadable_photo_is_refused(tmp_path: Path) -> None:
    photo = tmp_path / "broken.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(UnreadableImageError, match=r"broken\.jpg"):
        make_walkby_clip([("someone", photo)], tmp_path / "frames")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": (32, 32)}, "too small"),
        ({"fps": 0.0}, "must be > 0"),
        ({"seconds_per_person": -1.0}, "must be > 0"),
        ({"gap_seconds": -0.1}, "gap_seconds >= 0"),
        ({"size": (200, 120), "face_width": 130.0}, "does not fit"),
    ],
)
def test_impossible_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    photo = tmp_path / "unused.jpg"
    with pytest.raises(ValueError, match=message):
        make_walkby_clip([("x", photo)], tmp_path / "clip.mp4", **kwargs)


def test_no_photos(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        make_walkby_clip([], tmp_path / "clip.mp4")
