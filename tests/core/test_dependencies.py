"""Every runtime dependency in pyproject.toml is used by the code that ships.

A dependency nothing imports still gets installed on every terminal (pydantic-settings was
one, issue 14): this reads the list and the shipped packages' imports, not a list of ours.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("edge", "sync_server")
# Where a wheel's metadata does not name the module it provides (dlib-bin lists only its
# extension's helper), or the distribution is not installed here.
IMPORT_NAMES = {"dlib-bin": {"dlib"}}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_dependencies() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = []
    for requirement in project["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.append(_normal(match.group()))
    return names


@functools.cache
def _installed_modules() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _module_names(dist: str) -> set[str]:
    names = {dist.replace("-", "_"), *IMPORT_NAMES.get(dist, set())}
    for module, dists in _installed_modules().items():
        if dist in {_normal(d) for d in dists}:
            names.add(module)
    return names


def _referenced_modules() -> set[str]:
    """Top-level modules imported by the shipped code, and module names it spells out
    (``find_spec("face_recognition_models")`` locates a package without importing it)."""
    found: set[str] = set()
    for package in SHIPPED:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found.add(node.module.split(".")[0])
                elif isinstance(node, ast.Constant) and str(node.value).isidentifier():
                    found.add(str(node.value))
    return found


def test_every_runtime_dependency_is_used_by_the_shipped_code() -> None:
    used = _referenced_modules()
    unused = [dist for dist in _runtime_dependencies() if not _module_names(dist) & used]
    assert unused == [], f"declared in pyproject.toml, imported nowhere in {SHIPPED}: {unused}"


def test_the_check_sees_the_dependencies_it_is_about() -> None:
    # The check above is only worth something if it reads the list and finds real imports.
    dependencies = _runtime_dependencies()
    assert {"opencv-python-headless", "dlib-bin", "structlog"} <= set(dependencies)
    assert {"cv2", "dlib", "structlog"} <= _referenced_modules()
    assert "cv2" in _module_names("opencv-python-headless")
