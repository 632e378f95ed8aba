"""Importing capture must not drag in cv2 or picamera2 (fresh interpreter each)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, check=True, timeout=120)


def test_import_loads_no_camera_library() -> None:
    run(
        """
        import sys
        import edge.capture
        from edge.capture import CaptureConfig, Picamera2CameraConfig, create_source
        assert "cv2" not in sys.modules, "cv2 imported by edge.capture"
        assert "picamera2" not in sys.modules
        source = create_source(Picamera2CameraConfig())
        assert "picamera2" not in sys.modules, "picamera2 imported before open()"
        assert "cv2" not in sys.modules
        """
    )


def test_opencv_backend_imports_no_gui() -> None:
    run(
        """
        import sys
        from edge.capture import OpenCVCameraConfig, create_source
        create_source(OpenCVCameraConfig())
        assert "cv2" in sys.modules
        gui = [m for m in sys.modules if m.split(".")[0] in ("PyQt5", "PyQt6", "tkinter", "gi")]
        assert not gui, gui
        """
    )
