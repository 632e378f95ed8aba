"""``hadir demo``: the whole system on one machine, in a temporary directory.

A real server (SQLite) in a subprocess on a loopback port; a terminal registered
through the admin API; people enrolled from sample photos (the server computes
their templates); a real edge daemon whose camera replays a clip generated from
the sample photos, syncing to that server; live progress; and at the end the
day's attendance read back from the server. Exit 0 only when every enrolled
person in the clip was recorded and synced, and nobody else was.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from edge.errors import HadirError

ROOT = Path(__file__).resolve().parent.parent
TERMINAL_ID = "demo-terminal"


class DemoError(HadirError, RuntimeError):
    """The demo could not be set up (no sample faces, server did not start...)."""


@dataclass(frozen=True)
class Cast:
    """Who is enrolled (with which photos) and who walks past the camera."""

    enrolled: dict[str, list[Path]]
    walkers: list[tuple[str, Path]]
    source: str

    @property
    def strangers(self) -> set[str]:
        return {person for person, _ in self.walkers} - set(self.enrolled)


def default_faces_dir() -> Path | None:
    candidates = [
        os.environ.get("HADIR_FACES_DIR"),
        "../shared/faces",
        ROOT.parent / "shared/faces",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "people").is_dir():
            return Path(candidate)
    return None


def cast_from_people(people_dir: Path) -> Cast:
    """People with two or more photos are enrolled from their first and walk past with their
    second; people with a single photo walk past without being enrolled (strangers)."""
    enrolled: dict[str, list[Path]] = {}
    walkers: list[tuple[str, Path]] = []
    for person_dir in sorted(p for p in people_dir.iterdir() if p.is_dir()):
        photos = sorted(p for p in person_dir.iterdir() if p.is_file())
        if len(photos) >= 2:
            enrolled[person_dir.name] = photos[:1]
            walkers.append((person_dir.name, photos[1]))
        elif photos:
            walkers.append((person_dir.name, photos[0]))
    if not enrolled:
        raise DemoError(f"{people_dir}: no person with two or more photos")
    return Cast(enrolled, walkers, str(people_dir))


def cast_from_packaged_sample(workdir: Path) -> Cast:
    """Without the shared faces: scikit-image's ``astronaut`` (Eileen Collins), a public-domain
    NASA portrait shipped inside that package."""
    try:
        from skimage import data
    except ImportError as exc:
        raise DemoError(
            "no sample faces: put the shared faces at ../shared/faces (or set HADIR_FACES_DIR), "
            "or pip install scikit-image for its built-in sample portrait"
        ) from exc
    from PIL import Image

    path = workdir / "samples" / "eileen_collins" / "astronaut.png"
    path.parent.mkdir(parents=True)
    Image.fromarray(data.astronaut()).save(path)  # type: ignore[no-untyped-call]
    return Cast({"eileen_collins": [path]}, [("eileen_collins", path)], "scikit-image astronaut")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DemoServer:
    """``python -m sync_server run`` on a free loopback port with a SQLite file."""

    def __init__(self, workdir: Path, admin_token: str) -> None:
        self.workdir = workdir
        self.admin_token = admin_token
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        config = self.workdir / "server.toml"
        config.write_text(
            f'database_url = "sqlite:///{self.workdir / "server.db"}"\n'
            f'[listen]\nhost = "127.0.0.1"\nport = {self.port}\n'
            '[logging]\nformat = "json"\nlevel = "warning"\n'
        )
        env = {**os.environ, "HADIR_ADMIN_TOKEN": self.admin_token}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync_server", "run", "--config", str(config)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoError(f"the server exited at start; its log:\n{self._log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise DemoError(f"the server did not become ready in {timeout_s} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-20:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_demo(
    *,
    faces_dir: Path | None = None,
    workdir: Path | None = None,
    pace: str = "realtime",
    builtin: bool = False,
    out: Callable[[str], object] = print,
) -> int:
    """Run the demo; returns the exit code (0 = everyone expected recorded and synced)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="hadir-demo-") as tmp:
            return _run(Path(tmp), faces_dir, pace, builtin, out)
    workdir.mkdir(parents=True, exist_ok=True)
    return _run(workdir, faces_dir, pace, builtin, out)


def _run(
    workdir: Path, faces_dir: Path | None, pace: str, builtin: bool, out: Callable[[str], object]
) -> int:
    from edge.capture.synth import make_walkby_clip
    from edge.config import load_edge_config
    from edge.daemon.runner import EdgeDaemon
    from sync_server.admin_client import AdminApiError, AdminClient, AdminCredentials

    faces_dir = None if builtin else (faces_dir or default_faces_dir())
    cast = (
        cast_from_people(faces_dir / "people")
        if faces_dir is not None
        else cast_from_packaged_sample(workdir)
    )
    out(f"hadir demo in {workdir}")
    out(f"  sample faces: {cast.source}")

    admin_token = secrets.token_urlsafe(24)
    server = DemoServer(workdir, admin_token)
    server.start()
    out(f"  server: {server.url} (SQLite, log {server.log_path})")
    try:
        with AdminClient(AdminCredentials(server.url, admin_token)) as admin:
            token = admin.create_terminal(TERMINAL_ID, "default", "hadir demo")["token"]
            out(f"  terminal {TERMINAL_ID} registered")
            for person, photos in cast.enrolled.items():
                admin.create_person(person, person.replace("_", " ").title())
                for photo in photos:
                    try:
                        admin.upload_photo(person, photo)
                    except AdminApiError as exc:
                        out(f"  {person}: {photo.name} rejected ({exc.reason}): {exc}")
            out(f"  enrolled {len(cast.enrolled)} people at the server")

            clip = workdir / "walkby.mp4"
            segments = make_walkby_clip(cast.walkers, clip, seed=1)
            seconds = segments[-1].last_frame / 15.0 if segments else 0.0
            out(
                f"  camera: replay of {clip.name}, {len(segments)} people walking past "
                f"({len(cast.strangers)} not enrolled), {seconds:.0f} s"
            )

            token_file = workdir / "terminal_token"
            token_file.write_text(token)
            token_file.chmod(0o600)
            edge_toml = workdir / "edge.toml"
            edge_toml.write_text(
                f'data_dir = "{workdir / "edge"}"\n'
                f'[device]\nid = "{TERMINAL_ID}"\n'
                f'[capture.camera]\ntype = "replay"\npath = "{clip}"\npace = "{pace}"\n'
                '[feedback]\ntype = "none"\n'
                f'[sync]\nserver_url = "{server.url}"\ntoken_file = "{token_file}"\n'
                "push_interval_s = 1\npull_interval_s = 5\nheartbeat_interval_s = 5\n"
            )
            config = load_edge_config(edge_toml, environ={})
            daemon = EdgeDaemon.from_config(config)
            result: dict[str, int] = {}
            runner = threading.Thread(
                target=lambda: result.setdefault("code", daemon.run(drain_on_end_s=30)),
                name="hadir-demo-daemon",
            )
            runner.start()
            _progress(daemon, runner, out)
            runner.join()
            if result.get("code", 1) != 0:
                out(f"  the terminal stopped with exit code {result.get('code')}")
            return _report(admin, cast, out)
    finally:
        server.stop()


def _progress(daemon: Any, runner: threading.Thread, out: Callable[[str], object]) -> None:
    tty = sys.stdout.isatty()
    last = ""
    while runner.is_alive():
        stats = daemon.stats()
        loop = daemon.loop.counters
        try:
            backlog = daemon.store.backlog().count
        except HadirError:
            backlog = 0
        line = (
            f"  frames {stats['frames']:4d} | faces {loop['faces']:4d} | "
            f"recorded {stats['recorded']:2d} | unknown {stats['unknown']:2d} | "
            f"synced {max(0, stats['recorded'] - backlog):2d}"
        )
        if line != last:
            if tty:
                sys.stdout.write("\r" + line)
                sys.stdout.flush()
            else:
                out(line)
            last = line
        runner.join(0.5)
    if tty:
        sys.stdout.write("\n")


def _report(admin: Any, cast: Cast, out: Callable[[str], object]) -> int:
    now = datetime.now(UTC)
    events = admin.events(
        start=(now - timedelta(days=1)).isoformat(), end=(now + timedelta(hours=1)).isoformat()
    )
    rows = events.get("events", events) if isinstance(events, dict) else events
    by_person: dict[str, list[dict[str, Any]]] = {}
    for event in rows:
        by_person.setdefault(event["person_id"], []).append(event)
    out("")
    out("Today's attendance, read back from the server:")
    out(f"  {'person':22s} {'first in (UTC)':20s} {'events':>6s}")
    expected = set(cast.enrolled) & {person for person, _ in cast.walkers}
    for person in sorted(expected | set(by_person)):
        got = by_person.get(person, [])
        first = min((str(e.get("corrected_time") or e.get("wall_time")) for e in got), default="-")
        mark = "" if (person in expected) == bool(got) else "   <- unexpected"
        out(f"  {person:22s} {first[:19]:20s} {len(got):6d}{mark}")
    missing = expected - set(by_person)
    intruders = set(by_person) - expected
    if missing or intruders:
        out(f"demo FAILED: missing {sorted(missing)}, unexpected {sorted(intruders)}")
        return 1
    out(f"demo OK: all {len(expected)} enrolled people recorded and synced; strangers ignored")
    return 0
