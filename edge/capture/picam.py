"""picamera2 backend for Raspberry Pi CSI cameras (libcamera).

picamera2 comes from Raspberry Pi OS (``apt install python3-picamera2``), not
from PyPI wheels that match the system libcamera, so it is imported only when a
camera is opened, and a machine without it gets an error that says what to do.

Colour order: picamera2's ``RGB888`` format is named after libcamera's DRM fourcc
and delivers pixels in memory as **B, G, R** (what OpenCV calls BGR); ``BGR888``
would give R, G, B. We ask for RGB888 (the format every Pi ISP supports for the
main stream) and reverse the channels once here, so frames leave as RGB.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import time
from typing import Any

import numpy as np
import structlog

from edge.capture.config import Picamera2CameraConfig
from edge.capture.errors import CameraBackendUnavailableError, CameraOpenError, CameraReadError
from edge.capture.frame import RGBImage
from edge.capture.source import Clock, FrameSource, WallClock
from edge.clock import utc_now

log = structlog.get_logger(__name__)

INSTALL_HINT = (
    "picamera2 is not installed in this Python environment. On Raspberry Pi OS run "
    "'sudo apt install python3-picamera2' and create the venv with "
    "'python3 -m venv --system-site-packages' so it can see the system package"
)
OPEN_HINT = (
    "is the camera connected and enabled, is another process (rpicam-*, a second daemon) "
    "holding it, and can this service see /dev/dma_heap and /dev/media* "
    "(systemd PrivateDevices=yes hides them)?"
)


def load_picamera2() -> Any:
    """Import the real picamera2 module, or explain how to install it."""
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        raise CameraBackendUnavailableError(INSTALL_HINT) from exc
    except ValueError as exc:
        # "numpy.dtype size changed": the venv's numpy 2 shadows the OS numpy 1.x that
        # python3-picamera2 (simplejpeg, pidng) was built against.
        raise CameraBackendUnavailableError(
            f"picamera2 cannot load with this numpy ({exc}); install numpy<2 in the venv "
            "(pip install 'numpy<2'), matching Raspberry Pi OS's python3-numpy"
        ) from exc


class Picamera2Source(FrameSource):
    """Frames from ``Picamera2.capture_array()``, BGR-ordered RGB888 turned into RGB.

    ``module`` stands in for the ``picamera2`` module (anything with a ``Picamera2``
    class); tests pass :class:`edge.capture.fake_picamera2.FakeCameraSystem`.
    """

    def __init__(
        self,
        config: Picamera2CameraConfig,
        *,
        module: Any | None = None,
        monotonic: Clock = time.monotonic,
        now: WallClock = utc_now,
    ) -> None:
        super().__init__(monotonic=monotonic, now=now)
        self.config = config
        self._module = module
        self._camera: Any | None = None

    @property
    def description(self) -> str:
        cfg = self.config
        return f"picamera2 camera {cfg.camera_num} ({cfg.width}x{cfg.height})"

    @property
    def nominal_fps(self) -> float | None:
        return self.config.fps

    def _open(self) -> None:
        module = self._module if self._module is not None else load_picamera2()
        cfg = self.config
        try:
            camera = module.Picamera2(cfg.camera_num)
        except Exception as exc:
            raise CameraOpenError(f"{self.description}: cannot open: {exc}; {OPEN_HINT}") from exc
        try:
            controls: dict[str, Any] = {}
            if cfg.fps is not None:
                # FrameDurationLimits (microseconds) is the primitive control every
                # picamera2 version accepts; "FrameRate" is a newer convenience.
                frame_us = round(1_000_000 / cfg.fps)
                controls["FrameDurationLimits"] = (frame_us, frame_us)
            video_config = camera.create_video_configuration(
                main={"size": (cfg.width, cfg.height), "format": "RGB888"},
                buffer_count=cfg.buffer_count,
                controls=controls,
            )
            camera.configure(video_config)
            camera.start()
        except Exception as exc:
            self._release(camera)
            raise CameraOpenError(
                f"{self.description}: cannot configure/start: {exc}; {OPEN_HINT}"
            ) from exc
        self._camera = camera
        log.info("camera_opened", source=self.description, fps=cfg.fps)

    def _read(self) -> RGBImage:
        camera = self._camera
        if camera is None:
            raise CameraReadError(f"{self.description}: not open")
        timeout = self.config.read_timeout
        try:
            # wait=False returns a Job; waiting on it with a timeout is what turns a
            # camera that silently stopped delivering into a reconnect, not a hang.
            job = camera.capture_array("main", wait=False)
            array = job.get_result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            raise CameraReadError(f"{self.description}: no frame within {timeout:g} s") from exc
        except Exception as exc:
            raise CameraReadError(f"{self.description}: capture failed: {exc}") from exc
        return self._to_rgb(np.asarray(array))

    def _to_rgb(self, array: np.ndarray[Any, Any]) -> RGBImage:
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
            raise CameraReadError(
                f"{self.description}: unexpected frame {array.shape} {array.dtype} "
                "(expected RGB888)"
            )
        rows = slice(None, None, -1) if self.config.vflip else slice(None)
        cols = slice(None, None, -1) if self.config.hflip else slice(None)
        # B,G,R(,X) -> R,G,B, flips included, in the one copy we make anyway.
        return np.ascontiguousarray(array[rows, cols, 2::-1])

    def _release(self, camera: Any) -> None:
        for step in ("stop", "close"):
            try:
                getattr(camera, step)()
            except Exception as exc:
                # A camera that vanished fails to stop; the handle must still go.
                log.warning(
                    "camera_release_error", source=self.description, step=step, error=str(exc)
                )

    def _close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            self._release(camera)
