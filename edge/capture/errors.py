"""Errors raised by the capture package.

``permanent`` tells the grabber whether retrying can help: a camera that is
unplugged may come back, a replay file that does not exist or a missing
picamera2 installation will not.
"""

from __future__ import annotations

from edge.errors import HadirError


class CaptureError(HadirError, OSError):
    """A camera or replay source could not be opened or read."""

    permanent = False


class CameraOpenError(CaptureError):
    """The source could not be opened (device busy or absent, stream unreachable)."""


class CameraReadError(CaptureError):
    """The source was open but delivered no frame (device gone, stream stalled)."""


class SourceNotFoundError(CameraOpenError, FileNotFoundError):
    """A replay file or image folder does not exist or holds no images."""

    permanent = True


class InvalidSourceError(CameraOpenError):
    """A replay file exists but cannot be decoded as video or images."""

    permanent = True


class CameraBackendUnavailableError(HadirError, ImportError):
    """The library a backend needs is not installed on this machine (picamera2)."""

    permanent = True


class EndOfStreamError(HadirError, EOFError):
    """A replay source without ``loop`` has delivered its last frame."""
