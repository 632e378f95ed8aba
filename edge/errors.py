"""One exception root for the whole project.

Every leaf also subclasses the builtin a caller would naturally catch
(``ValueError`` for bad input, ``OSError`` for I/O, ...), the way gpiozero does,
so ``except ValueError`` keeps working for code that does not know hadir.
"""

from __future__ import annotations


class HadirError(Exception):
    """Root of every error hadir raises on purpose."""


class ConfigError(HadirError, ValueError):
    """A configuration file or environment variable is missing, malformed or invalid."""


class ModelNotFoundError(HadirError, FileNotFoundError):
    """A dlib model file could not be located."""


class ModelLoadError(HadirError, ValueError):
    """A dlib model file exists but cannot be loaded (truncated, corrupt, not a model)."""


class ImageError(HadirError, ValueError):
    """An image cannot be used. ``reason`` is a short machine-readable code."""

    reason = "unusable_image"


class UnreadableImageError(ImageError):
    """The bytes are not a decodable image (empty, truncated, wrong format)."""

    reason = "unreadable"


class ImageTooLargeError(ImageError):
    """The image declares more pixels than allowed (decompression-bomb guard)."""

    reason = "too_large"


class ImageTooSmallError(ImageError):
    """The image is too small to hold a usable face."""

    reason = "too_small"


class NoFaceError(ImageError):
    """No face was found where one was required."""

    reason = "no_face"


class SeveralFacesError(ImageError):
    """More than one face was found where exactly one was required."""

    reason = "several_faces"


class PoorQualityError(ImageError):
    """A face was found but fails the quality checks (size, blur, pose, exposure)."""

    reason = "poor_quality"


class GalleryError(HadirError, ValueError):
    """Templates handed to the matcher are malformed (dimension, NaN/inf, ids)."""
