"""scripts/wheelhouse.py: the key of the requirements, and what a wheelhouse lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import wheelhouse

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77", "wheel"]

[project]
name = "hadir"
dependencies = ["numpy>=1.26,<3", "PyYAML>=6"]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""


def _pyproject(tmp_path: Path, text: str = PYPROJECT) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return path


def _site(tmp_path: Path, *dists: str) -> Path:
    site = tmp_path / "site-packages"
    for dist in dists:
        (site / (dist if dist.endswith(".egg-info") else f"{dist}.dist-info")).mkdir(parents=True)
    (site / "numpy").mkdir(exist_ok=True)  # a package folder is not a distribution
    return site


def _wheels(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_the_key_follows_the_requirements_and_the_parts(tmp_path: Path) -> None:
    path = _pyproject(tmp_path)
    first = wheelhouse.key(path, ["python 3.11.7 linux-x86_64"])
    assert first == wheelhouse.key(path, ["python 3.11.7 linux-x86_64"])
    assert len(first) == 16
    assert first != wheelhouse.key(path, ["python 3.12.1 linux-x86_64"])
    # Any requirement: a dependency, an optional group's, the build backend's.
    for old, new in (
        ("numpy>=1.26,<3", "numpy>=2,<3"),
        ('"pytest>=8"', '"pytest>=8", "hypothesis"'),
        ('"wheel"', '"wheel>=0.40"'),
    ):
        changed = _pyproject(tmp_path, PYPROJECT.replace(old, new))
        assert wheelhouse.key(changed, ["python 3.11.7 linux-x86_64"]) != first, new
    # What is not a requirement does not move it.
    other = _pyproject(tmp_path, PYPROJECT + '\n[tool.ruff]\nline-length = 100\n')
    assert wheelhouse.key(other, ["python 3.11.7 linux-x86_64"]) == first


def test_missing_names_installed_versions_without_a_wheel(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        "numpy-1.26.4",
        "PyYAML-6.0.2",
        "hadir-0.1.0",
        "typing_extensions-4.12.2",
        # installed from an sdist by "setup.py install", as bookworm's pip does without wheel
        "face_recognition_models-0.3.0-py3.11.egg-info",
    )
    folder = _wheels(
        tmp_path,
        "numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "pyyaml-6.0.1-cp311-cp311-manylinux_2_17_aarch64.whl",  # another version
        "wheel-0.45.1-py3-none-any.whl",
        "notes.txt",
    )
    # hadir is built from the source, never taken from the folder; PyYAML's wheel is of
    # another version.
    assert wheelhouse.missing(site, folder) == [
        "face-recognition-models==0.3.0",
        "pyyaml==6.0.2",
        "typing-extensions==4.12.2",
    ]
    (folder / "PyYAML-6.0.2-cp311-cp311-linux_aarch64.whl").write_bytes(b"")
    (folder / "typing_extensions-4.12.2-py3-none-any.whl").write_bytes(b"")
    (folder / "face_recognition_models-0.3.0-py2.py3-none-any.whl").write_bytes(b"")
    assert wheelhouse.missing(site, folder) == []


def test_the_build_requirements_come_as_written(tmp_path: Path) -> None:
    # Whatever the folder holds: the venv's own setuptools (66 in bookworm's venv) does not
    # build a project that asks for setuptools>=77.
    assert wheelhouse.build_requirements(_pyproject(tmp_path)) == ["setuptools>=77", "wheel"]
    (tmp_path / "bad.toml").write_text(PYPROJECT.replace('"wheel"', '"=wheel"'))
    with pytest.raises(ValueError, match="not a requirement"):
        wheelhouse.build_requirements(tmp_path / "bad.toml")


def test_an_absent_wheelhouse_lacks_everything(tmp_path: Path) -> None:
    site = _site(tmp_path, "numpy-1.26.4")
    assert wheelhouse.missing(site, tmp_path / "none") == ["numpy==1.26.4"]


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _pyproject(tmp_path)
    site = _site(tmp_path, "numpy-1.26.4")
    assert wheelhouse.main(["key", "--pyproject", str(path), "a", "b"]) == 0
    assert capsys.readouterr().out == wheelhouse.key(path, ["a", "b"]) + "\n"
    assert wheelhouse.main(["missing", str(site), str(tmp_path)]) == 0
    assert capsys.readouterr().out == "numpy==1.26.4\n"
    assert wheelhouse.main(["build", "--pyproject", str(path)]) == 0
    assert capsys.readouterr().out == "setuptools>=77\nwheel\n"
    with pytest.raises(SystemExit) as exited:
        wheelhouse.main(["missing", str(tmp_path / "nowhere"), str(tmp_path)])
    assert exited.value.code == 2
    assert "no such site-packages folder" in capsys.readouterr().err
    (tmp_path / "bad.toml").write_text("[project\n")
    assert wheelhouse.main(["key", "--pyproject", str(tmp_path / "bad.toml")]) == 1
    assert "wheelhouse:" in capsys.readouterr().err
