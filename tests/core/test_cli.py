"""The ``hadir`` command: help everywhere, config check, identify on real faces."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import build_parser, main


def _command_paths(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


def test_help_on_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    paths = _command_paths(build_parser())
    assert ("identify",) in paths
    assert ("config", "check") in paths
    for path in paths:
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0, path
        assert "usage: hadir" in capsys.readouterr().out


def test_config_check_ok_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[device]\nid = "door-1"\n')
    assert main(["config", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out

    bad = tmp_path / "bad.toml"
    bad.write_text("[recognition.matching]\nthreshold = -1\n")
    assert main(["config", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "recognition.matching.threshold" in err[0]


def _bad_run_configs(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Configs `hadir edge run` refuses: name -> (TOML after data_dir, key the error names)."""
    (tmp_path / "empty_token").write_text("")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "token").write_text("tok-1\n")
    url = 'server_url = "https://hadir.example:8600"\n'
    return {
        "unknown time zone": ('[device]\ntimezone = "Mars/Olympus_Mons"\n', "device.timezone"),
        "token file missing": (
            f'[sync]\n{url}token_file = "{tmp_path / "none"}"\n',
            "sync.token_file",
        ),
        "token file empty": (
            f'[sync]\n{url}token_file = "{tmp_path / "empty_token"}"\n',
            "sync.token_file",
        ),
        "token file a directory": (
            f'[sync]\n{url}token_file = "{tmp_path / "a_dir"}"\n',
            "sync.token_file",
        ),
        "server without token": (f"[sync]\n{url}", "sync.server_url"),
        "ca_file missing": (
            f'[sync]\n{url}token_file = "{tmp_path / "token"}"\n'
            f'ca_file = "{tmp_path / "ca.pem"}"\n',
            "sync.ca_file",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unknown time zone",
        "token file missing",
        "token file empty",
        "token file a directory",
        "server without token",
        "ca_file missing",
    ],
)
def test_config_check_refuses_what_edge_run_refuses_and_run_creates_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("HADIR_SYNC__TOKEN", raising=False)
    body, key = _bad_run_configs(tmp_path)[case]
    data = tmp_path / "data"
    config = tmp_path / "edge.toml"
    config.write_text(f'data_dir = "{data}"\n{body}')

    assert main(["config", "check", str(config)]) == 2
    checked = capsys.readouterr()
    assert "ok" not in checked.out
    lines = checked.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert key in lines[0]

    assert main(["edge", "run", "--config", str(config)]) == 2
    run_lines = capsys.readouterr().err.strip().splitlines()
    assert run_lines[-1:] == lines  # the same words from the same check
    assert not data.exists(), "the run created the store for a config it then refused"


def test_config_check_lists_every_problem_and_accepts_a_working_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.delenv("HADIR_SYNC__TOKEN", raising=False)
    (tmp_path / "token").write_text("tok-1\n")
    good = tmp_path / "good.toml"
    good.write_text(
        '[device]\ntimezone = "Europe/Berlin"\n[sync]\n'
        f'server_url = "https://hadir.example"\ntoken_file = "{tmp_path / "token"}"\n'
    )
    assert main(["config", "check", str(good)]) == 0
    assert "ok" in capsys.readouterr().out

    both = tmp_path / "both.toml"
    both.write_text(
        f'[sync]\nserver_url = "https://hadir.example"\ntoken_file = "{tmp_path / "none"}"\n'
        f'ca_file = "{tmp_path / "ca.pem"}"\n'
    )
    assert main(["config", "check", str(both)]) == 2
    err = capsys.readouterr().err
    assert "sync.token_file" in err
    assert "sync.ca_file" in err


def run_hadir(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--log-format", "json", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.faces
def test_identify_reports_people_and_per_file_problems(tmp_path: Path, faces_dir: Path) -> None:
    gallery = tmp_path / "gallery"
    for person in ("barack_obama", "joe_biden"):
        (gallery / person).mkdir(parents=True)
        first = sorted((faces_dir / "people" / person).iterdir())[0]
        (gallery / person / first.name).symlink_to(first)
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")

    result = run_hadir(
        "identify",
        "--gallery",
        str(gallery),
        str(faces_dir / "scenes/two_people.jpg"),
        str(faces_dir / "scenes/dogs.jpg"),
        str(tmp_path / "notes.jpg"),
        str(tmp_path / "empty.png"),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr  # some inputs unreadable: partial
    out = result.stdout
    assert "two_people.jpg: 2 faces" in out
    assert "barack_obama  distance" in out
    assert "joe_biden  distance" in out
    assert "dogs.jpg: no face found" in out
    assert "notes.jpg: not a supported image file" in result.stderr
    assert "empty.png: empty file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.faces
def test_identify_json_and_exit_zero(tmp_path: Path, faces_dir: Path) -> None:
    gallery = tmp_path / "gallery"
    (gallery / "kit_harington").mkdir(parents=True)
    (gallery / "kit_harington" / "kit1.jpg").symlink_to(faces_dir / "people/kit_harington/kit1.jpg")
    result = run_hadir(
        "identify",
        "--json",
        "--gallery",
        str(gallery),
        str(faces_dir / "scenes/kit_with_rose.jpg"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    people = sorted(str(face["person"]) for face in records[0]["faces"])
    assert people == ["None", "kit_harington"]  # Rose is not enrolled: unknown


def test_identify_missing_gallery_is_a_usage_error(tmp_path: Path) -> None:
    result = run_hadir("identify", "--gallery", str(tmp_path / "none"), "x.jpg", cwd=tmp_path)
    assert result.returncode == 2
    assert "gallery folder not found" in result.stderr
