"""Model files are found without importing face_recognition_models (pkg_resources is gone)."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import ModelLoadError, ModelNotFoundError
from edge.recognize.embedder import FaceEmbedder
from edge.recognize.models import model_files, models_dir

ROOT = Path(__file__).resolve().parents[2]
_HIDDEN = ("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence", "pip")


def test_model_files_exist() -> None:
    files = model_files()
    for path in (files.landmarks_5, files.landmarks_68, files.descriptor, files.cnn_detector):
        assert path.is_file()
        assert path.stat().st_size > 1000


def test_env_override_and_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HADIR_MODELS_DIR", str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(ModelNotFoundError, match="model file missing"):
        model_files()


def _models_with_a_corrupt(tmp_path: Path, name: str, content: bytes | None) -> Path:
    """A models folder of links to the real files, except ``name``: ``content`` or truncated."""
    real = model_files()
    folder = tmp_path / "models"
    folder.mkdir()
    for path in (real.landmarks_5, real.landmarks_68, real.descriptor, real.cnn_detector):
        if path.name != name:
            (folder / path.name).symlink_to(path)
        elif content is None:
            with path.open("rb") as whole:
                (folder / name).write_bytes(whole.read(path.stat().st_size // 3))
        else:
            (folder / name).write_bytes(content)
    return folder


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("dlib_face_recognition_resnet_model_v1.dat", None),
        ("dlib_face_recognition_resnet_model_v1.dat", b""),
        ("shape_predictor_5_face_landmarks.dat", os.urandom(4096)),
    ],
)
def test_a_corrupt_model_is_one_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes | None
) -> None:
    folder = _models_with_a_corrupt(tmp_path, name, content)
    monkeypatch.setenv("HADIR_MODELS_DIR", str(folder))
    with pytest.raises(ModelLoadError) as caught:
        FaceEmbedder()
    message = str(caught.value)
    assert str(folder / name) in message
    assert "\n" not in message


def test_edge_run_with_a_truncated_model_exits_2_with_one_line(tmp_path: Path) -> None:
    name = "dlib_face_recognition_resnet_model_v1.dat"
    folder = _models_with_a_corrupt(tmp_path, name, None)
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "frame_000000.png"), np.zeros((48, 64, 3), np.uint8))
    config = tmp_path / "edge.toml"
    data = tmp_path / "data"
    config.write_text(
        f'data_dir = "{data}"\n[capture.camera]\ntype = "replay"\npath = "{frames}"\n'
    )
    env = {**os.environ, "HADIR_MODELS_DIR": str(folder), "HADIR_LOG_FORMAT": "json"}
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "edge", "run", "--config", str(config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    # JSON logs (as under systemd): every line is a record, the reason is one of them.
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    fatal = [r for r in records if r.get("event") == "daemon_start_failed"]
    assert len(fatal) == 1, done.stderr
    assert fatal[0]["level"] == "error"
    assert str(folder / name) in fatal[0]["error"]
    assert "corrupt" in fatal[0]["error"]


@pytest.mark.slow
def test_locator_works_in_a_venv_with_the_newest_setuptools(tmp_path: Path) -> None:
    """A fresh venv gets the registry's newest setuptools (no pkg_resources since 81).

    The project's installed packages are appended after the venv's own
    site-packages, so the new setuptools shadows whatever the test venv has.
    """
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "setuptools"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if pip.returncode != 0:
        message = f"cannot install setuptools from the package index: {pip.stderr[-500:]}"
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail(message)
        pytest.skip(message)
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Expose the project's packages but not its own setuptools/pkg_resources.
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    for site_dir in site.getsitepackages():
        for entry in Path(site_dir).iterdir() if Path(site_dir).is_dir() else ():
            if not entry.name.startswith(_HIDDEN) and not (shelf / entry.name).exists():
                (shelf / entry.name).symlink_to(entry)
    Path(own_site, "zz_project.pth").write_text(f"{shelf}\n{ROOT}\n")
    probe = (
        "import importlib.metadata as m, importlib.util as u\n"
        "v = int(m.version('setuptools').split('.')[0])\n"
        "has_pkg_resources = u.find_spec('pkg_resources') is not None\n"
        "from edge.recognize.models import model_files\n"
        "f = model_files()\n"
        "print(v, has_pkg_resources, f.descriptor.is_file(), f.landmarks_5.is_file())\n"
    )
    out = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    major, has_pkg_resources, descriptor_ok, landmarks_ok = out.stdout.split()
    assert int(major) >= 81, "expected the newest setuptools, which dropped pkg_resources"
    assert has_pkg_resources == "False"
    assert descriptor_ok == landmarks_ok == "True"
    # And the package itself really cannot be imported there: the reason for the locator.
    broken = subprocess.run(
        [str(python), "-c", "import face_recognition_models"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode != 0
    assert "pkg_resources" in broken.stderr
    assert sys.version_info >= (3, 11)
