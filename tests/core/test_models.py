"""Model files are found without importing face_recognition_models (pkg_resources is gone)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from edge.errors import ModelNotFoundError
from edge.recognize.models import model_files, models_dir

ROOT = Path(__file__).resolve().parents[2]
_HIDDEN = ("setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence", "pip")


def test_model_files_exist() -> None:
    files = model_files()
    for path in (files.landmarks_5, files.descriptor, files.cnn_detector):
        assert path.is_file()
        assert path.stat().st_size > 1000


def test_env_override_and_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HADIR_MODELS_DIR", str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(ModelNotFoundError, match="model file missing"):
        model_files()


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
