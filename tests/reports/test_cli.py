"""``hadir attendance``: the CLI against a real server process on a loopback port."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx

from sync_server.process import ServerProcess
from sync_server.reports_cli import add_reports_parser
from tests.reports.helpers import backdate_people, local
from tests.server.helpers import ADMIN_TOKEN, batch, bearer, event
from tests.support import ROOT


def hadir_attendance(
    *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_server.reports_cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**_base_env(cwd), **env},
        timeout=120,
        check=False,
    )


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADIR_")}
    # HOME points away from a real ~/.config/hadir/admin.toml.
    return {**env, "HOME": str(home), "PYTHONPATH": str(ROOT)}


def _seed(url: str, database_url: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=url + "/api/v1", headers=admin, timeout=30) as client:
        token = client.post("/admin/terminals", json={"id": "door-1"}).json()["token"]
        day = client.post(
            "/admin/shifts",
            json={"name": "day", "start": "09:00", "end": "17:00", "grace_minutes": 5},
        ).json()["id"]
        night = client.post(
            "/admin/shifts", json={"name": "night", "start": "22:00", "end": "06:00"}
        ).json()["id"]
        client.put("/admin/groups/office/shift", json={"shift_id": day})
        client.put("/admin/groups/night/shift", json={"shift_id": night})
        for person, group in (("alice", "office"), ("bob", "office"), ("nina", "night")):
            response = client.post(
                "/admin/people", json={"id": person, "name": person.title(), "group": group}
            )
            assert response.status_code == 201, response.text
        punches = [
            ("alice", "in", local("2026-10-14 08:55")),
            ("alice", "out", local("2026-10-14 17:05")),
            ("bob", "in", local("2026-10-14 09:20")),
            ("nina", "in", local("2026-10-14 21:58")),
            ("nina", "out", local("2026-10-15 06:10")),
        ]
        body = batch("door-1", [event("door-1", p, kind=k, wall_time=t) for p, k, t in punches])
        response = client.post("/events", json=body, headers=bearer(token))
        assert response.status_code == 200, response.text
    backdate_people(database_url)


def test_attendance_commands_against_a_server(db_url: str, tmp_path: Path) -> None:
    extra = 'site_timezone = "Europe/Berlin"'
    with ServerProcess(tmp_path / "server", db_url, ADMIN_TOKEN, extra_toml=extra) as server:
        _seed(server.url, db_url)
        env = {"HADIR_SERVER_URL": server.url, "HADIR_ADMIN_TOKEN": ADMIN_TOKEN}

        day = hadir_attendance("day", "2026-10-14", env=env, cwd=tmp_path)
        assert day.returncode == 0, day.stderr
        lines = day.stdout.splitlines()
        assert lines[0] == "Attendance 2026-10-14 (Europe/Berlin)"
        alice = next(line for line in lines if line.startswith("alice"))
        assert alice.split() == [
            "alice", "Alice", "office", "-", "day", "09:00",
            "08:55", "17:05", "8:10", "complete", "ok",
        ]  # fmt: skip
        bob = next(line for line in lines if line.startswith("bob"))
        assert bob.split()[6:10] == ["09:20", "-", "-", "in"]
        assert bob.endswith("late 20m")
        nina = next(line for line in lines if line.startswith("nina"))
        assert "06:10+1" in nina
        assert lines[-1] == (
            "3 people: 2 complete, 1 in only, 0 out only, 0 absent, 0 not yet due; 1 late"
        )

        # A day that has not happened: nobody is absent.
        tomorrow = (date.today() + timedelta(days=2)).isoformat()
        future = hadir_attendance("day", tomorrow, "--group", "night", env=env, cwd=tmp_path)
        assert future.returncode == 0, future.stderr
        nina = next(line for line in future.stdout.splitlines() if line.startswith("nina"))
        assert nina.split()[-2:] == ["yet", "-"]  # status "not yet", late "-"
        assert future.stdout.splitlines()[-1] == (
            "1 person: 0 complete, 0 in only, 0 out only, 0 absent, 1 not yet due; 0 late"
        )

        filtered = hadir_attendance(
            "day", "2026-10-14", "--group", "night", "--json", env=env, cwd=tmp_path
        )
        assert filtered.returncode == 0, filtered.stderr
        assert [r["person_id"] for r in json.loads(filtered.stdout)["rows"]] == ["nina"]

        month = hadir_attendance("month", "2026-10", env=env, cwd=tmp_path)
        assert month.returncode == 0, month.stderr
        alice_month = next(line for line in month.stdout.splitlines() if line.startswith("alice"))
        # 22 working days (Monday to Friday), present 1, absent the other 21, no leave.
        assert alice_month.split()[-8:] == ["22", "1", "21", "-", "1", "0", "100.0%", "8.17"]

        out = tmp_path / "export.csv"
        export = hadir_attendance(
            "export", "--from", "2026-10-14", "--to", "2026-10-15", "-o", str(out),
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert export.returncode == 0, export.stderr
        assert "wrote 6 person-day rows" in export.stderr
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
        assert [(r["date"], r["person_id"], r["status"]) for r in rows] == [
            ("2026-10-14", "alice", "complete"),
            ("2026-10-14", "bob", "in_only"),
            ("2026-10-14", "nina", "complete"),
            ("2026-10-15", "alice", "absent"),
            ("2026-10-15", "bob", "absent"),
            ("2026-10-15", "nina", "absent"),
        ]

        events = hadir_attendance(
            "export", "--from", "2026-10-15", "--to", "2026-10-15", "--rows", "events",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert events.returncode == 0, events.stderr
        assert events.stdout.splitlines()[1].split(",")[1:5] == [
            "2026-10-15 06:10:00",
            "2026-10-15T04:10:00Z",
            "nina",
            "Nina",
        ]

        hrms = hadir_attendance(
            "export", "--from", "2026-10-14", "--to", "2026-10-14", "--format", "hrms",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert hrms.returncode == 0, hrms.stderr
        assert json.loads(hrms.stdout)[0] == {
            "employee": "alice",
            "time": "2026-10-14 08:55:00",
            "log_type": "IN",
            "device_id": "door-1",
            "corrected": False,
        }

        today = hadir_attendance("today", env=env, cwd=tmp_path)
        assert today.returncode == 0, today.stderr

        # Credentials from an admin config file, the URL from --server.
        config = tmp_path / "admin.toml"
        config.write_text(f'admin_token = "{ADMIN_TOKEN}"\n')
        from_file = hadir_attendance(
            "day", "2026-10-14", "--server", server.url, "--admin-config", str(config),
            env={}, cwd=tmp_path,
        )  # fmt: skip
        assert from_file.returncode == 0, from_file.stderr

        wrong = hadir_attendance("today", env={**env, "HADIR_ADMIN_TOKEN": "x" * 30}, cwd=tmp_path)
        assert wrong.returncode == 1
        assert "401" in wrong.stderr
        bad_range = hadir_attendance(
            "export", "--from", "2026-10-15", "--to", "2026-10-14", env=env, cwd=tmp_path
        )
        assert bad_range.returncode == 1
        assert "before" in bad_range.stderr


def test_attendance_needs_credentials(tmp_path: Path) -> None:
    result = hadir_attendance("today", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "server URL missing" in result.stderr
    result = hadir_attendance("today", "--server", "http://127.0.0.1:9", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "admin token missing" in result.stderr
    result = hadir_attendance(
        "today", "--server", "http://127.0.0.1:9", env={"HADIR_ADMIN_TOKEN": "t" * 20},
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert "cannot reach the server" in result.stderr


def test_parser_hooks_into_a_cli() -> None:
    parser = argparse.ArgumentParser(prog="hadir")
    add_reports_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["attendance", "month", "2026-11", "--group", "hq"])
    assert (args.month, args.group, args.handler.__name__) == ("2026-11", "hq", "cmd_month")
    args = parser.parse_args(["attendance", "export", "--from", "2026-11-01", "--to", "2026-11-30"])
    assert (args.rows, args.format, args.output) == ("days", "csv", None)


def hadir(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**_base_env(cwd), **env},
        timeout=120,
        check=False,
    )


def test_flagged_events_in_attendance_and_review_commands(db_url: str, tmp_path: Path) -> None:
    """A failed liveness check: `hadir attendance day` marks the person's row, `hadir review`
    lists the event and marks it reviewed."""
    extra = 'site_timezone = "Europe/Berlin"'
    with ServerProcess(tmp_path / "server", db_url, ADMIN_TOKEN, extra_toml=extra) as server:
        _seed(server.url, db_url)
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url + "/api/v1", headers=admin, timeout=30) as client:
            token = client.post("/admin/terminals/door-1/token").json()["token"]
            flagged = event(
                "door-1",
                "bob",
                kind="out",
                wall_time=local("2026-10-14 12:00"),
                liveness={"score": 0.2, "passed": False, "reasons": ["frame_edges"]},
            )
            body = batch("door-1", [flagged])
            response = client.post("/events", json=body, headers=bearer(token))
            assert response.json()["results"][0]["status"] == "accepted"
        env = {"HADIR_SERVER_URL": server.url, "HADIR_ADMIN_TOKEN": ADMIN_TOKEN}

        day = hadir_attendance("day", "2026-10-14", env=env, cwd=tmp_path)
        assert day.returncode == 0, day.stderr
        lines = day.stdout.splitlines()
        assert lines[2].split()[-1] == "review"  # the header gains a column
        bob = next(line for line in lines if line.startswith("bob"))
        assert bob.endswith("late 20m  needs review")
        alice = next(line for line in lines if line.startswith("alice"))
        assert "review" not in alice
        assert lines[-1] == (
            "needs review: 1 event whose liveness check failed (bob); see hadir review list"
        )
        as_json = hadir_attendance("day", "2026-10-14", "--json", env=env, cwd=tmp_path)
        rows = {r["person_id"]: r for r in json.loads(as_json.stdout)["rows"]}
        assert (rows["bob"]["needs_review"], rows["alice"]["needs_review"]) == (1, 0)
        other_day = hadir_attendance("day", "2026-10-15", env=env, cwd=tmp_path)
        assert "review" not in other_day.stdout

        listed = hadir("review", "list", env=env, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.splitlines()
        assert line.split()[0] == flagged["id"]
        assert line.split()[2:] == [
            "bob", "door-1", "out", "0.20", "frame_edges", "needs", "review",
        ]  # fmt: skip
        assert "1 event to review" in listed.stderr

        marked = hadir("review", "mark", flagged["id"], env=env, cwd=tmp_path)
        assert marked.returncode == 0, marked.stderr
        assert f"event {flagged['id']} reviewed by admin token" in marked.stdout
        after = hadir("review", "list", env=env, cwd=tmp_path)
        assert (after.stdout, "0 events to review" in after.stderr) == ("", True)
        everything = hadir("review", "list", "--all", env=env, cwd=tmp_path)
        assert "reviewed by admin token" in everything.stdout
        day = hadir_attendance("day", "2026-10-14", env=env, cwd=tmp_path)
        assert "review" not in day.stdout

        unknown = "0193a1b2-0000-7000-8000-000000000000"
        partly = hadir("review", "mark", unknown, flagged["id"], env=env, cwd=tmp_path)
        assert partly.returncode == 1
        assert f"event {unknown}: unknown_event" in partly.stderr
        assert f"event {flagged['id']} reviewed" in partly.stdout
        not_an_id = hadir("review", "mark", "../people/bob", env=env, cwd=tmp_path)
        assert not_an_id.returncode == 2
        assert "is not an event id" in not_an_id.stderr
