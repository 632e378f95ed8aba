"""``hadir leave``: its arguments, and its commands against a real server process on loopback
(SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
from pathlib import Path

import httpx
import pytest

from edge.cli import build_parser, main
from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN_TOKEN


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["leave", *argv])


def test_arguments_are_checked_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _parse("add", "siti", "Sakit", "2026-12-01")
    assert (args.person, args.kind, args.start, args.end, args.note) == (
        "siti",
        "Sakit",
        "2026-12-01",
        None,
        None,
    )
    args = _parse("list", "--month", "2026-02")
    assert args.month == ("2026-02-01", "2026-02-28")
    args = _parse("import", "leave.csv", "--dry-run")
    assert args.dry_run is True
    assert args.file == Path("leave.csv")
    for bad, words in (
        (["add", "siti", "sick", "2026-02-30"], "is not a date"),
        (["list", "--month", "2026-13"], "is not a month"),
        (["list", "--month", "december"], "is not a month"),
        (["delete", "x1"], "is not a leave id"),
        (["delete", "0"], "is not a leave id"),
        (["add", "siti"], "required"),
    ):
        with pytest.raises(SystemExit) as exited:
            _parse(*bad)
        assert exited.value.code == 2
        assert words in capsys.readouterr().err


def test_without_credentials_it_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("HADIR_SERVER_URL", "HADIR_ADMIN_TOKEN", "HADIR_ADMIN_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["leave", "kinds"]) == 2
    assert "server URL missing" in capsys.readouterr().err


def test_leave_commands_against_a_server(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ServerProcess(tmp_path / "server", db_url, ADMIN_TOKEN) as server:
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url + "/api/v1", headers=admin, timeout=30) as client:
            for person in ("siti", "budi"):
                answer = client.post("/admin/people", json={"id": person, "name": person.title()})
                assert answer.status_code == 201, answer.text
            employee = client.patch("/admin/people/budi/attendance", json={"employee_id": "E-7"})
            assert employee.status_code == 200
        monkeypatch.setenv("HADIR_SERVER_URL", server.url)
        monkeypatch.setenv("HADIR_ADMIN_TOKEN", ADMIN_TOKEN)
        monkeypatch.setenv("HOME", str(tmp_path))

        assert main(["leave", "kinds"]) == 0
        kinds = capsys.readouterr().out.splitlines()
        assert any(line.split()[:3] == ["sick", "active", "Sick"] for line in kinds)
        assert any("Sakit" in line for line in kinds)

        assert main(["leave", "add", "siti", "Sakit", "2026-11-30", "2026-12-02"]) == 0
        added = capsys.readouterr().out
        assert added.startswith("leave 1: siti, Sick (sick), 2026-11-30 to 2026-12-02 (3 days)")

        # A refused leave is one line with the server's reason, exit 2, nothing written.
        assert main(["leave", "add", "siti", "annual", "2026-12-02"]) == 2
        assert "overlaps leave 1" in capsys.readouterr().err

        csv = tmp_path / "cuti.csv"
        csv.write_text(
            "person,kind,start,end,note\n"
            "E-7,cuti,2026-12-21,2026-12-24,mudik\n"
            "hantu,sick,2026-12-01,,\n",
            encoding="utf-8",
        )
        assert main(["leave", "import", str(csv), "--dry-run"]) == 1
        checked = capsys.readouterr()
        assert "line 2: would add: budi: annual from 2026-12-21 to 2026-12-24" in checked.out
        assert "line 3: refused (unknown_person): 'hantu':" in checked.err
        assert "1 line would be added, 1 refused (dry run: nothing written)" in checked.err

        assert main(["leave", "list", "--month", "2026-12"]) == 0
        listed = capsys.readouterr()
        assert [line.split()[:3] for line in listed.out.splitlines()] == [["1", "siti", "sick"]]

        assert main(["leave", "import", str(csv)]) == 1
        assert "line 2: added (leave" in capsys.readouterr().out
        assert main(["leave", "list", "--month", "2026-12", "--person", "E-7"]) == 0
        budi = capsys.readouterr().out.splitlines()
        assert len(budi) == 1
        assert budi[0].split()[1:3] == ["budi", "annual"]
        assert budi[0].endswith("mudik")
        assert main(["leave", "list", "--month", "2026-11", "--kind", "Sakit"]) == 0
        assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["siti"]

        assert main(["leave", "delete", "1", "999"]) == 1
        deleted = capsys.readouterr()
        assert "leave 1 deleted" in deleted.out
        assert "leave 999: unknown_leave:" in deleted.err
        assert main(["leave", "list"]) == 0
        assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["budi"]
