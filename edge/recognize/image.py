"""Decode still images (enrolment photos, ``hadir identify``) safely.

Pillow reads the header first, so an image that declares 30000x30000 pixels is
refused before a single pixel is allocated; truncated files fail on ``load()``
instead of decoding into grey garbage as ``cv2.imdecode`` would; EXIF
orientation from phone photos is applied, since an enrolment photo lying on
its side has no detectable face.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from edge.errors import ImageTooLargeError, ImageTooSmallError, UnreadableImageError

RGBImage = npt.NDArray[np.uint8]

MIN_SIDE = 32
DEFAULT_MAX_PIXELS = 40_000_000
_FORMATS = ("JPEG", "PNG", "BMP", "WEBP", "TIFF", "PPM", "GIF")


def decode_image(
    data: bytes, *, name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS
) -> RGBImage:
    """Decode encoded image bytes to an ``(H, W, 3)`` uint8 RGB array.

    Raises :class:`UnreadableImageError`, :class:`ImageTooLargeError` or
    :class:`ImageTooSmallError` with a message that names ``name``.
    """
    if not data:
        raise UnreadableImageError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            # Pillow warns before its own bomb error; we check the size ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_FORMATS)
            width, height = img.size
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    f"{name}: {width}x{height} pixels is more than the {max_pixels:,} allowed"
                )
            if min(width, height) < MIN_SIDE:
                raise ImageTooSmallError(
                    f"{name}: {width}x{height} pixels is too small to hold a face "
                    f"(at least {MIN_SIDE}x{MIN_SIDE})"
                )
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (ImageTooLargeError, ImageTooSmallError):
        raise
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(f"{name}: not a supported image file") from exc
    except Image.DecompressionBombError as exc:
        # Pillow refuses before we see the size; its message carries the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        declared = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageTooLargeError(
            f"{name}: declares {declared}, more than the {max_pixels:,} allowed"
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow reports truncation and corrupt streams as OSError/SyntaxError.
        raise UnreadableImageError(f"{name}: corrupt or truncated image ({exc})") from exc
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def read_image(path: Path | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """Read and decode an image file; see :func:`decode_image`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise UnreadableImageError(f"{path}: is a directory") from exc
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return decode_image(data, name=str(path), max_pixels=max_pixels)
