"""The picamera2 backend, run against the fake picamera2 shipped in the package."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge.capture import (
    CameraBackendUnavailableError,
    CameraOpenError,
    CameraReadError,
    CaptureState,
    FrameGrabber,
    Picamera2CameraConfig,
    ReconnectConfig,
    create_source,
)
from edge.capture.fake_picamera2 import FakeCameraSystem
from edge.capture.picam import Picamera2Source
from tests.support.wait import wait_until

SCENE = (200, 100, 50)


def make(system: FakeCameraSystem, **options: object) -> Picamera2Source:
    config = Picamera2CameraConfig.model_validate({"width": 64, "height": 48, **options})
    source = create_source(config, module=system)
    assert isinstance(source, Picamera2Source)
    return source


def test_frames_are_rgb_at_the_configured_size() -> None:
    system = FakeCameraSystem(scene_rgb=SCENE)
    with make(system, fps=15) as source:
        frame = source.read()
    assert frame.image.shape == (48, 64, 3)
    assert frame.image.dtype == np.uint8
    assert frame.image.flags.c_contiguous
    # The fake delivers B, G, R like real RGB888; the source hands out R, G, B.
    assert tuple(int(v) for v in frame.image[10, 10]) == SCENE
    camera = system.instances[0]
    assert camera.camera_config is not None
    assert camera.camera_config["main"] == {"format": "RGB888", "size": (64, 48)}
    assert camera.camera_config["controls"] == {"FrameDurationLimits": (66667, 66667)}
    assert camera.camera_config["use_case"] == "video"
    assert camera.closed
    assert not camera.started


@pytest.mark.parametrize(
    ("flips", "marker"),
    [({}, (0, 0)), ({"hflip": True}, (0, 63)), ({"vflip": True, "hflip": True}, (47, 63))],
)
def test_flips(flips: dict[str, bool], marker: tuple[int, int]) -> None:
    with make(FakeCameraSystem(), **flips) as source:
        image = source.read().image
    white = np.argwhere((image == 255).all(axis=2))
    assert [tuple(int(v) for v in p) for p in white] == [marker]


def test_close_releases_the_camera_so_it_can_be_reopened() -> None:
    system = FakeCameraSystem()
    source = make(system)
    for _ in range(3):
        source.open()
        source.read()
        source.close()
        source.close()
    assert len(system.instances) == 3
    assert system.open_count == 0


def test_absent_camera_explains_what_to_check() -> None:
    system = FakeCameraSystem()
    system.present = False
    with pytest.raises(CameraOpenError, match="dma_heap") as info:
        make(system).open()
    assert not info.value.permanent


def test_camera_held_elsewhere_is_an_open_error() -> None:
    system = FakeCameraSystem()
    holder = system.Picamera2(0)
    with pytest.raises(CameraOpenError, match="another process"):
        make(system).open()
    holder.close()


def test_start_failure_releases_the_camera() -> None:
    system = FakeCameraSystem()
    system.fail_start = True
    source = make(system)
    with pytest.raises(CameraOpenError, match="Failed to start camera"):
        source.open()
    assert system.open_count == 0
    assert not source.is_open
    system.fail_start = False
    with source:
        source.read()


def test_capture_failure_and_stall_are_read_errors() -> None:
    system = FakeCameraSystem()
    with make(system, read_timeout=0.5) as source:
        system.fail_capture = True
        with pytest.raises(CameraReadError, match="capture failed"):
            source.read()
        system.fail_capture = False
        system.stall = True
        with pytest.raises(CameraReadError, match=r"no frame within 0\.5 s"):
            source.read()
        system.stall = False
        assert source.read().index == 0


def test_grabber_reconnects_a_lost_picamera() -> None:
    system = FakeCameraSystem()
    source = make(system)
    states: list[CaptureState] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            system.present = True  # plugged back in after the third wait

    config = ReconnectConfig(initial_delay=0.5, max_delay=1.0, jitter=0.0, max_failures=0)
    grabber = FrameGrabber(
        source, config, sleep=sleep, on_state_change=lambda h: states.append(h.state)
    ).start()
    try:
        assert grabber.latest(timeout=10) is not None
        system.present = False  # the ribbon cable came loose
        wait_until(lambda: len(waits) >= 3 and grabber.state is CaptureState.OK)
        assert grabber.health().reconnects == 1
    finally:
        assert grabber.stop()
    assert states[:3] == [CaptureState.OK, CaptureState.RECONNECTING, CaptureState.OK]
    assert waits == [0.5, 1.0, 1.0]
    assert system.open_count == 0  # no camera handle leaked across reconnects


def test_missing_picamera2_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import picamera2` fail even where it is installed.
    monkeypatch.setitem(sys.modules, "picamera2", None)
    source = create_source(Picamera2CameraConfig())
    with pytest.raises(CameraBackendUnavailableError) as info:
        source.open()
    message = str(info.value)
    assert "apt install python3-picamera2" in message
    assert "--system-site-packages" in message
    assert info.value.permanent
    assert isinstance(info.value, ImportError)
    assert not source.is_open
