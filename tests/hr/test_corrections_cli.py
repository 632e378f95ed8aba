"""``hadir correction`` and ``hadir audit``: argument handling in process, and the commands
against a real server process on a loopback port (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge.cli import build_parser
from sync_server.process import ServerProcess
from tests.server.helpers import ADMIN_TOKEN, batch, bearer, event
from tests.support import ROOT

JAKARTA = ZoneInfo("Asia/Jakarta")


def hadir(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HADIR_")}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        # HOME points away from a real ~/.config/hadir/admin.toml.
        env={**base, "HOME": str(cwd), "PYTHONPATH": str(ROOT), **env},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["correction", "add", "ani", "2026-13-01", "17:00", "out", "--reason", "lupa"], "DATE"),
        (["correction", "add", "ani", "2026-12-01", "5pm", "out", "--reason", "lupa"], "TIME"),
        (["correction", "add", "ani", "2026-12-01", "17:00", "late", "--reason", "lupa"], "kind"),
        (["correction", "add", "ani", "2026-12-01", "17:00", "out"], "--reason"),
        (["correction", "add", "ani", "2026-12-01", "17:00", "out", "--reason", " x "], "reason"),
        (["correction", "void", "--reason", "wrong face"], "EVENT_ID"),
        (["correction", "revoke", "abc", "--reason", "wrong"], "correction number"),
        (["correction", "list", "--month", "2026-12-01"], "YYYY-MM"),
        (["audit", "list", "--from", "yesterday"], "YYYY-MM-DD"),
        (["audit", "list", "--limit", "0"], "--limit"),
        (["audit", "export"], "FILE"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(argv)
    assert stopped.value.code == 2
    assert words in capsys.readouterr().err


def test_good_arguments_are_parsed_to_what_the_api_takes() -> None:
    args = build_parser().parse_args(
        ["correction", "add", "ani", "2026-12-01", "17:05", "out", "--reason", "  lupa  "]
    )
    assert (args.person, args.date, args.time, args.kind, args.reason) == (
        "ani",
        date(2026, 12, 1),
        "17:05:00",
        "out",
        "lupa",
    )
    args = build_parser().parse_args(["correction", "list", "--month", "2026-2"])
    assert args.month == "2026-02"
    args = build_parser().parse_args(
        ["audit", "export", "-", "--entity", "shift", "--from", "2026-11-01"]
    )
    assert (str(args.file), args.entity, args.first) == ("-", "shift", date(2026, 11, 1))


def test_missing_credentials_exit_2(tmp_path: Path) -> None:
    done = hadir("correction", "list", env={}, cwd=tmp_path)
    assert done.returncode == 2
    assert "server URL missing" in done.stderr


def _seed(url: str) -> str:
    """Ani with a check-in yesterday 08:00 (Jakarta); returns the event's id."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    yesterday = datetime.now(JAKARTA).date() - timedelta(days=1)
    at = datetime.combine(yesterday, datetime.min.time(), JAKARTA).replace(hour=8)
    with httpx.Client(base_url=url + "/api/v1", headers=admin, timeout=30) as client:
        token = client.post("/admin/terminals", json={"id": "gate"}).json()["token"]
        made = client.post("/admin/people", json={"id": "ani", "name": "Ani"})
        assert made.status_code == 201, made.text
        body = event("gate", "ani", wall_time=at.astimezone(UTC), kind="in")
        sent = client.post("/events", json=batch("gate", [body]), headers=bearer(token))
        assert sent.status_code == 200, sent.text
    return str(body["id"])


def test_correction_and_audit_commands_against_a_server(db_url: str, tmp_path: Path) -> None:
    extra = 'site_timezone = "Asia/Jakarta"'
    with ServerProcess(tmp_path / "server", db_url, ADMIN_TOKEN, extra_toml=extra) as server:
        event_id = _seed(server.url)
        env = {"HADIR_SERVER_URL": server.url, "HADIR_ADMIN_TOKEN": ADMIN_TOKEN}
        day = (datetime.now(JAKARTA).date() - timedelta(days=1)).isoformat()

        added = hadir(
            "correction", "add", "ani", day, "17:00", "out", "--reason", "lupa absen pulang",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert added.stdout.strip() == f"correction 1: ani check-out added at {day} 17:00:00"

        again = hadir(
            "correction", "add", "ani", day, "17:00:30", "out", "--reason", "twice",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert again.returncode == 1
        assert "correction 1" in again.stderr  # the duplicate it clashes with

        voided = hadir(
            "correction", "void", event_id, "--person", "ani", "--reason", "bukan dia",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert voided.returncode == 0, voided.stderr
        assert f"ani check-in at {day} 08:00:00 voided (gate)" in voided.stdout

        unknown = hadir(
            "correction", "void", "0192c3a4-0000-7000-8000-000000000000", "--reason", "wrong",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert unknown.returncode == 1
        assert "no event" in unknown.stderr

        revoked = hadir(
            "correction", "revoke", "2", "--reason", "it was her", env=env, cwd=tmp_path
        )
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stdout.startswith("correction 2 revoked")

        listed = hadir("correction", "list", "--month", day[:7], env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0].split() == ["id", "person", "correction", "reason", "by", "state"]
        assert lines[2].startswith("2 ")
        assert "revoked by admin token" in lines[2]
        assert lines[3].startswith("1 ")
        assert lines[3].rstrip().endswith("counts")
        live = hadir("correction", "list", "--person", "ani", "--live", "--json",
                     env=env, cwd=tmp_path)  # fmt: skip
        assert [c["id"] for c in json.loads(live.stdout)] == [1]

        audit = hadir("audit", "list", "--entity", "correction", env=env, cwd=tmp_path)
        assert audit.returncode == 0, audit.stderr
        rows = audit.stdout.splitlines()[2:]
        # id, date, time, "admin token", action, entity ...
        assert [r.split()[5:7] for r in rows] == [
            ["revoke", "correction"],
            ["void", "correction"],
            ["create", "correction"],
        ]
        assert 'revoke_reason: null -> "it was her"' in rows[0]
        assert 'revoked_by: null -> "admin token"' in rows[0]
        few = hadir("audit", "list", "--limit", "1", "--json", env=env, cwd=tmp_path)
        assert len(json.loads(few.stdout)) == 1

        out = tmp_path / "audit.csv"
        exported = hadir("audit", "export", str(out), "--entity", "correction",
                         env=env, cwd=tmp_path)  # fmt: skip
        assert exported.returncode == 0, exported.stderr
        assert exported.stderr.strip() == f"wrote 3 audit rows to {out}"
        parsed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
        assert [r["action"] for r in parsed] == ["revoke", "void", "create"]
        assert json.loads(parsed[2]["after"])["reason"] == "lupa absen pulang"
        bad_file = tmp_path / "bad.csv"
        bad = hadir("audit", "export", str(bad_file), "--entity", "nonsense", env=env, cwd=tmp_path)
        assert bad.returncode == 1
        assert "nonsense" in bad.stderr
        assert not bad_file.exists()  # no empty file that looks like an export
