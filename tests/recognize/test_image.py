"""Bad input: every broken image is one clear error, never a crash or a hang."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge.errors import (
    HadirError,
    ImageTooLargeError,
    ImageTooSmallError,
    NoFaceError,
    SeveralFacesError,
    UnreadableImageError,
)
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.image import decode_image, read_image


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height but carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImageError, match="empty file"):
        read_image(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(_jpeg(640, 480)[:300])
    with pytest.raises(UnreadableImageError, match="corrupt or truncated"):
        read_image(path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    with pytest.raises(UnreadableImageError, match="not a supported image"):
        read_image(path)


def test_one_pixel_image(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(path)
    with pytest.raises(ImageTooSmallError, match="1x1"):
        read_image(path)


def test_decompression_bomb_refused_before_decoding() -> None:
    bomb = _png_header_only(30000, 30000)
    with pytest.raises(ImageTooLargeError, match="900,000,000 pixels"):
        decode_image(bomb, name="bomb.png")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError, match="cannot read"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(UnreadableImageError, match="is a directory"):
        read_image(tmp_path)


def test_errors_are_both_hadir_and_builtin_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(b"")
    with pytest.raises(ValueError):  # noqa: PT011 - the builtin is the point
        read_image(path)
    with pytest.raises(HadirError):
        read_image(path)


def test_rgba_and_grey_decode_to_rgb() -> None:
    for mode in ("RGBA", "L", "P"):
        buf = io.BytesIO()
        Image.new(mode, (40, 40)).save(buf, format="PNG")
        rgb = decode_image(buf.getvalue())
        assert rgb.shape == (40, 40, 3)
        assert rgb.dtype == np.uint8


def test_exif_rotation_is_applied() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a phone photo held upright
    Image.new("RGB", (80, 40)).save(buf, format="JPEG", exif=exif)
    assert decode_image(buf.getvalue()).shape == (80, 40, 3)


@pytest.mark.faces
def test_enrolment_rejects_no_face_and_several_faces(
    faces_dir: Path, analyzer: FaceAnalyzer
) -> None:
    with pytest.raises(NoFaceError) as no_face:
        analyzer.enrolment_descriptor(read_image(faces_dir / "scenes/dogs.jpg"), name="dogs")
    assert no_face.value.reason == "no_face"
    with pytest.raises(SeveralFacesError) as several:
        analyzer.enrolment_descriptor(read_image(faces_dir / "scenes/two_people.jpg"))
    assert several.value.reason == "several_faces"
    assert "2 faces" in str(several.value)


def test_large_declared_size_under_pillow_limit_refused_by_ours() -> None:
    with pytest.raises(ImageTooLargeError, match="9000x9000"):
        decode_image(_png_header_only(9000, 9000), name="big.png", max_pixels=1_000_000)
