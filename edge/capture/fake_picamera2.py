"""A stand-in for the subset of picamera2 that :mod:`edge.capture.picam` uses.

picamera2 runs only on a Raspberry Pi, so tests (and ``hadir`` demos on a laptop)
inject a :class:`FakeCameraSystem` as the module. It mimics the real behaviour that
matters to the backend:

- ``Picamera2(camera_num)`` raises ``RuntimeError`` when the camera is absent or
  already held by another (unclosed) instance, as libcamera does;
- ``create_video_configuration(main=...)`` returns a plain dict like the real one;
- ``capture_array("main", wait=False)`` returns a job whose ``get_result(timeout)``
  gives an ``(H, W, 3)`` uint8 array in **B, G, R** order, as real ``RGB888`` does,
  or raises ``concurrent.futures.TimeoutError`` when the camera stalls.

Failures are switched on through the system's attributes (``present``,
``fail_start``, ``fail_capture``, ``stall``) while a test runs.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import numpy as np
import numpy.typing as npt


class FakeJob:
    """What ``capture_array(wait=False)`` returns: a result to wait for."""

    def __init__(self, result: npt.NDArray[np.uint8] | None, error: BaseException | None) -> None:
        self._result = result
        self._error = error

    def get_result(self, timeout: float | None = None) -> npt.NDArray[np.uint8]:
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class FakePicamera2:
    """One opened camera of a :class:`FakeCameraSystem`."""

    def __init__(self, system: FakeCameraSystem, camera_num: int = 0) -> None:
        self.system = system
        self.camera_num = camera_num
        self.camera_config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.frames = 0
        system._acquire(self)

    def _make_config(
        self,
        use_case: str,
        default_format: str,
        main: dict[str, Any] | None = None,
        buffer_count: int = 4,
        controls: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        stream = {"format": default_format, "size": (640, 480)} | dict(main or {})
        return {
            "use_case": use_case,
            "main": stream,
            "buffer_count": buffer_count,
            "controls": dict(controls or {}),
            **kwargs,
        }

    def create_video_configuration(self, main: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self._make_config("video", "XBGR8888", main, **kwargs)

    def create_preview_configuration(
        self, main: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return self._make_config("preview", "XBGR8888", main, **kwargs)

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        fmt = camera_config["main"]["format"]
        if fmt not in ("RGB888", "BGR888"):
            raise RuntimeError(f"fake camera supports RGB888/BGR888 only, not {fmt}")
        width, height = camera_config["main"]["size"]
        if width % 2 or height % 2:
            raise RuntimeError("width and height should be even")
        self.camera_config = camera_config

    def start(self) -> None:
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        if self.system.fail_start:
            raise RuntimeError("Failed to start camera")
        self.started = True

    def capture_array(self, name: str = "main", wait: bool | None = None) -> Any:
        job = self._capture(name)
        if wait is False:
            return job
        return job.get_result()

    def _capture(self, name: str) -> FakeJob:
        system = self.system
        if not self.started or self.camera_config is None:
            return FakeJob(None, RuntimeError("Camera not started"))
        if system.stall:
            return FakeJob(None, concurrent.futures.TimeoutError())
        if system.fail_capture or not system.present:
            return FakeJob(None, RuntimeError("Device or resource busy"))
        stream = self.camera_config[name]
        width, height = stream["size"]
        red, green, blue = system.scene_rgb
        # libcamera's RGB888 is B, G, R in memory; BGR888 is R, G, B.
        pixel = (blue, green, red) if stream["format"] == "RGB888" else (red, green, blue)
        array = np.empty((height, width, 3), np.uint8)
        array[:] = pixel
        # A marker in the top-left corner makes flips visible to tests.
        array[0, 0] = (255, 255, 255)
        self.frames += 1
        with system._lock:
            system.frames_captured += 1
        return FakeJob(array, None)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        if not self.closed:
            self.stop()
            self.closed = True
            self.system._release(self)


class FakeCameraSystem:
    """A fake ``picamera2`` module: pass it as ``Picamera2Source(module=...)``."""

    def __init__(self, *, scene_rgb: tuple[int, int, int] = (200, 100, 50)) -> None:
        self.scene_rgb = scene_rgb
        self.present = True
        self.fail_capture = False
        self.stall = False
        self.fail_start = False
        self.instances: list[FakePicamera2] = []
        self.frames_captured = 0
        self._holder: FakePicamera2 | None = None
        self._lock = threading.Lock()

    def Picamera2(self, camera_num: int = 0) -> FakePicamera2:  # noqa: N802 - picamera2's name
        return FakePicamera2(self, camera_num)

    @property
    def open_count(self) -> int:
        """Cameras opened and not closed: more than 1 would be a leak."""
        return sum(1 for cam in self.instances if not cam.closed)

    def _acquire(self, camera: FakePicamera2) -> None:
        with self._lock:
            if not self.present:
                raise RuntimeError("Camera(s) not found")
            if self._holder is not None:
                raise RuntimeError("Camera __init__ sequence did not complete.")
            self._holder = camera
            self.instances.append(camera)

    def _release(self, camera: FakePicamera2) -> None:
        with self._lock:
            if self._holder is camera:
                self._holder = None
