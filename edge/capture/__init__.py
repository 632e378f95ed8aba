"""Camera capture: sources (OpenCV, picamera2, replay) and the newest-frame grabber.

Frames are RGB ``(H, W, 3)`` uint8 everywhere (see :mod:`edge.capture.frame`).
Importing this package imports neither cv2 nor picamera2; backends load when a
source is created (cv2) or opened (picamera2).
"""

from edge.backoff import Backoff
from edge.capture.config import (
    CameraConfig,
    CaptureConfig,
    ContentCheckConfig,
    JetsonCSICameraConfig,
    OpenCVCameraConfig,
    Picamera2CameraConfig,
    ReconnectConfig,
    ReplayCameraConfig,
)
from edge.capture.errors import (
    CameraBackendUnavailableError,
    CameraOpenError,
    CameraReadError,
    CaptureError,
    EndOfStreamError,
    InvalidSourceError,
    SourceNotFoundError,
)
from edge.capture.factory import create_grabber, create_source
from edge.capture.frame import Frame, RGBImage
from edge.capture.grabber import CaptureHealth, CaptureState, FrameGrabber
from edge.capture.gstreamer import jetson_csi_pipeline
from edge.capture.source import FrameSource

__all__ = [
    "Backoff",
    "CameraBackendUnavailableError",
    "CameraConfig",
    "CameraOpenError",
    "CameraReadError",
    "CaptureConfig",
    "CaptureError",
    "CaptureHealth",
    "CaptureState",
    "ContentCheckConfig",
    "EndOfStreamError",
    "Frame",
    "FrameGrabber",
    "FrameSource",
    "InvalidSourceError",
    "JetsonCSICameraConfig",
    "OpenCVCameraConfig",
    "Picamera2CameraConfig",
    "RGBImage",
    "ReconnectConfig",
    "ReplayCameraConfig",
    "SourceNotFoundError",
    "create_grabber",
    "create_source",
    "jetson_csi_pipeline",
]
