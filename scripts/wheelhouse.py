#!/usr/bin/env python3
"""The wheelhouse CI keeps between runs: every wheel a venv was installed from, in one folder.

pip's own cache keeps a download only when the index marks it cacheable, and a proxy that
strips ``Cache-Control`` leaves it empty: every CI run would fetch the same ~130 MB again.
So ``.ci/run`` (the host venv) and ``scripts/check-arm64.sh`` (the emulated terminal's venv)
keep one folder of wheels per *key*, and install from it with ``--no-index`` when it is
complete. The key hashes the project's requirements (``[build-system] requires``,
``dependencies``, every optional group) and whatever else the caller names (interpreter,
platform, month): a changed requirement is a new key, so it is resolved and fetched fresh
from the index, never answered from an old folder.

Two commands, run by the host's ``python3`` (standard library only; the arm64 venv is read as
files, without starting its emulated interpreter):

    wheelhouse.py key [--pyproject FILE] [PART...]    print the key
    wheelhouse.py missing SITE_PACKAGES WHEELHOUSE     print what the folder lacks
    wheelhouse.py build [--pyproject FILE]             print the build requirements

``missing`` prints ``name==version``, one a line, for every distribution installed in
SITE_PACKAGES (except hadir itself, which is built from the source) that has no wheel in
WHEELHOUSE: ``pip wheel --no-deps -w WHEELHOUSE`` of them. ``build`` prints the project's
``[build-system] requires`` as written: building the project offline needs a backend that fits
them (the venv's own, older setuptools may not), with its dependencies (``wheel`` needs
``packaging``): ``pip wheel -w WHEELHOUSE`` of them, dependencies included.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

# The project itself: built from the source tree on every install, never from the folder.
PROJECT = "hadir"


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML``, ``pyyaml`` are one)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if found is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(found.group(1))


def requirements(pyproject: Path) -> list[str]:
    """Every requirement the project can ask pip for, one line each, in a stable order."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project", {})
    lines = [f"build {r}" for r in data.get("build-system", {}).get("requires", [])]
    lines += [f"dependency {r}" for r in project.get("dependencies", [])]
    for group, reqs in sorted(project.get("optional-dependencies", {}).items()):
        lines += [f"extra {group} {r}" for r in reqs]
    return lines


def key(pyproject: Path, parts: Iterable[str]) -> str:
    text = "\n".join([*requirements(pyproject), *parts]) + "\n"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def installed(site_packages: Path) -> dict[str, str]:
    """canonical name -> version of every distribution in a site-packages folder."""
    found: dict[str, str] = {}
    for info in site_packages.glob("*.dist-info"):
        name, sep, version = info.name.removesuffix(".dist-info").rpartition("-")
        if sep and name:
            found[canonical(name)] = version
    # What an old pip installed with "setup.py install" (an sdist, and no wheel package to
    # build one: face_recognition_models in bookworm's venv): NAME-VERSION-pyX.Y.egg-info.
    for info in site_packages.glob("*.egg-info"):
        parts = info.name.removesuffix(".egg-info").split("-")
        if len(parts) >= 2 and parts[0]:
            found.setdefault(canonical(parts[0]), parts[1])
    return found


def wheels(wheelhouse: Path) -> set[tuple[str, str]]:
    """(canonical name, version) of every wheel in the folder (wheel names: PEP 427)."""
    found: set[tuple[str, str]] = set()
    for wheel in wheelhouse.glob("*.whl"):
        parts = wheel.name.split("-")
        if len(parts) >= 5:
            found.add((canonical(parts[0]), parts[1]))
    return found


def missing(site_packages: Path, wheelhouse: Path) -> list[str]:
    have = wheels(wheelhouse) if wheelhouse.is_dir() else set()
    return [
        f"{name}=={version}"
        for name, version in sorted(installed(site_packages).items())
        if name != PROJECT and (name, version) not in have
    ]


def build_requirements(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    found: list[str] = data.get("build-system", {}).get("requires", [])
    for requirement in found:
        requirement_name(requirement)  # a malformed one is named here, not by pip later
    return found


def main(argv: list[str] | None = None) -> int:
    default_pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    key_parser = sub.add_parser("key", help="print the key of the project's requirements")
    key_parser.add_argument("parts", nargs="*", help="more text the key depends on")
    key_parser.add_argument("--pyproject", type=Path, default=default_pyproject)
    missing_parser = sub.add_parser("missing", help="print what the wheelhouse lacks")
    missing_parser.add_argument("site_packages", type=Path)
    missing_parser.add_argument("wheelhouse", type=Path)
    build_parser = sub.add_parser("build", help="print the build-system requirements")
    build_parser.add_argument("--pyproject", type=Path, default=default_pyproject)
    args = parser.parse_args(argv)
    try:
        if args.command == "key":
            print(key(args.pyproject, args.parts))
            return 0
        if args.command == "build":
            lines = build_requirements(args.pyproject)
        elif not args.site_packages.is_dir():
            parser.error(f"no such site-packages folder: {args.site_packages}")
        else:
            lines = missing(args.site_packages, args.wheelhouse)
        for line in lines:
            print(line)
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        print(f"wheelhouse: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
