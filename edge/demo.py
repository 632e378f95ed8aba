"""``hadir demo``: the whole system on one machine, in a temporary directory.

A real server (SQLite) in a subprocess on a loopback port; a terminal registered
through the admin API; people enrolled from photos (the server computes their
templates); a real edge daemon whose camera replays a composed clip, syncing to
that server; live progress; and at the end the day's attendance read back from
the server.

The clip shows only what the demo then claims. With the shared faces, live
people walk up (real video clips; each is enrolled from a photo taken from an
early frame of their own clip), then a live person who is not enrolled, then
somebody holds up a printed photo of an enrolled colleague who is not
there: a presentation attack (``edge.capture.attacks``). Without them, the only
face at hand is scikit-image's astronaut portrait, a still photo, so the demo
shows that photo propped up in front of the camera and nothing else. What the
terminal must do with the attack follows the configured ``[recognition.liveness] mode`` (the shipped
default unless ``HADIR_RECOGNITION__LIVENESS__*`` says otherwise): ``refuse``
never records it, ``flag`` records it marked "needs review". Exit 0 only when
every live enrolled person was recorded and synced, nobody else was, and the
attack was handled as the mode says.
"""

from __future__ import annotations

import enum
import math
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.errors import HadirError

ROOT = Path(__file__).resolve().parent.parent
TERMINAL_ID = "demo-terminal"

# The composed camera clip: the attack generator's default frame size and rate, so its
# frames need no resampling, and a 15 fps replay that a 2-core machine keeps up with.
FRAME_SIZE = (960, 540)
FPS = 15.0
SCENE_S = 3.0  # each person (or the attack) in front of the camera
GAP_S = 0.8  # empty frames between them, long enough for a track to end
PLAY_FROM_S = 0.5  # live clips play from here; their enrolment photo is frame 0
GAP_VARIANTS = 4
FEATHER_PX = 40  # a letterboxed clip fades into the wall instead of showing a hard edge

# The only variables that reach the demo's terminal config: the liveness mode is the one
# setting whose outcome the demo is about; anything else from the caller's environment
# (a data_dir, a server_url) would point the demo at someone's real terminal.
LIVENESS_ENV_PREFIX = "HADIR_RECOGNITION__LIVENESS__"

# Shared faces (../shared/faces/README.md): live clips of people who are in no other set.
LIVE_CLIPS = ("talking_head_1.mp4", "talking_head_2.mp4", "webcam_single_face.mp4")
STRANGER_CLIP = "expressions_hand_over_face.mp4"
# The colleague whose photo is held up is enrolled but never walks up: a punch for someone
# who is not there is what an attack is for (held up after the person's own punch, it would
# only be "already recorded" and show nothing).
ABSENT_PERSON = "barack_obama"
ABSENT_ATTACK_PHOTO = "obama2.jpg"  # a different photo than the enrolled ones, as found online
ATTACK_SEED = 7
PROPPED = "propped_print"  # a print_still render's first frame, unmoving, with camera noise

MODE_MEANS = {
    "off": "no check: a photo held up is recorded like a face",
    "flag": "an attack is recorded and marked 'needs review' at the server",
    "refuse": "an attack is never recorded",
}


ATTACK_MEDIA = {
    "propped_print": "printed on paper, propped up in front of the camera",
    "print_still": "printed on paper, held still",
    "print_moving": "printed on paper, moved by a hand",
    "phone_photo": "on a phone screen",
    "phone_video": "a video on a phone screen",
    "tablet": "on a tablet screen",
}


class DemoError(HadirError, RuntimeError):
    """The demo could not be set up (no sample faces, server did not start...)."""


class Role(enum.StrEnum):
    LIVE = "live"  # an enrolled person walks up to the terminal
    STRANGER = "stranger"  # a live person who is not enrolled
    ATTACK = "attack"  # an enrolled person's photo held up by somebody else


@dataclass(frozen=True, slots=True)
class Scene:
    """One appearance in front of the camera: who, how, and from which footage."""

    person: str
    role: Role
    source: Path  # a live clip, or the photo the attack holds up
    attack_kind: str = ""  # an ``edge.capture.attacks.AttackKind`` value, for ATTACK

    def describe(self) -> str:
        if self.role is Role.LIVE:
            return f"{self.person} walks up (enrolled, live video)"
        if self.role is Role.STRANGER:
            return f"{self.person} walks up (not enrolled, live video)"
        medium = ATTACK_MEDIA.get(self.attack_kind, self.attack_kind.replace("_", " "))
        return f"a photo of {self.person} is shown to the camera ({medium}: a presentation attack)"


@dataclass(frozen=True, slots=True)
class Shot:
    """Ground truth: frames ``first_frame..last_frame`` (inclusive, from 0) show ``scene``."""

    scene: Scene
    first_frame: int
    last_frame: int

    def seconds(self, fps: float = FPS) -> tuple[float, float]:
        return self.first_frame / fps, (self.last_frame + 1) / fps


@dataclass(frozen=True)
class Cast:
    """Who is enrolled (with which photos) and what the camera shows, in order."""

    enrolled: dict[str, list[Path]]
    scenes: list[Scene]
    source: str

    def people(self, role: Role) -> list[str]:
        return [scene.person for scene in self.scenes if scene.role is role]


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


def cast_from_shared_faces(faces_dir: Path, workdir: Path) -> Cast:
    """Live clips for the people who walk up, enrolled from their clip's first frame (written
    as PNG under ``workdir``); a live stranger; an absent colleague's photo printed and held up."""
    video = faces_dir / "video"
    absent_dir = faces_dir / "people" / ABSENT_PERSON
    needed = [video / name for name in (*LIVE_CLIPS, STRANGER_CLIP)]
    needed.append(absent_dir / ABSENT_ATTACK_PHOTO)
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        raise DemoError(f"{faces_dir}: the demo's footage is missing: {', '.join(missing)}")
    enrolled: dict[str, list[Path]] = {}
    scenes: list[Scene] = []
    for name in LIVE_CLIPS:
        clip = video / name
        person = clip.stem
        enrolled[person] = [enrolment_photo(clip, workdir / "enrolment" / f"{person}.png")]
        scenes.append(Scene(person, Role.LIVE, clip))
    stranger = video / STRANGER_CLIP
    scenes.append(Scene(stranger.stem, Role.STRANGER, stranger))
    attack_photo = absent_dir / ABSENT_ATTACK_PHOTO
    enrolled[ABSENT_PERSON] = sorted(
        p for p in absent_dir.iterdir() if p.is_file() and p.name != ABSENT_ATTACK_PHOTO
    )
    # Paper, moved by a hand: the attack the liveness check is measured to catch most often
    # (scripts/bench_liveness.py has every kind); the demo claims nothing about the others.
    scenes.append(Scene(ABSENT_PERSON, Role.ATTACK, attack_photo, attack_kind="print_moving"))
    return Cast(enrolled, scenes, str(faces_dir))


def cast_from_packaged_sample(workdir: Path) -> Cast:
    """Without the shared faces: scikit-image's ``astronaut`` (Eileen Collins), a public-domain
    NASA portrait shipped inside that package. It is a still photo, so the one thing it can
    truthfully show is that photo shown to the camera: printed and propped up in front of it."""
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
    # Propped up, not hand-held: the liveness check refuses a picture that does not move at
    # all every time, while it lets most hand-held pictures through (docs/liveness.md), and
    # the demo that runs on a fresh machine must show what the check really does.
    scene = Scene("eileen_collins", Role.ATTACK, path, attack_kind=PROPPED)
    return Cast({"eileen_collins": [path]}, [scene], "scikit-image astronaut")


# -- the camera clip ---------------------------------------------------------------------


def enrolment_photo(clip: Path, out: Path, frame_index: int = 0) -> Path:
    """Write frame ``frame_index`` of ``clip`` as a PNG (its native size): the photo the
    person is enrolled from, as an admin would take one at the desk."""
    import cv2

    frames = _clip_frames(clip, [frame_index])
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(frames[frame_index], cv2.COLOR_RGB2BGR)):
        raise DemoError(f"{out}: OpenCV could not write the enrolment photo")
    return out


def compose_clip(
    scenes: Sequence[Scene],
    out: Path,
    *,
    size: tuple[int, int] = FRAME_SIZE,
    fps: float = FPS,
    scene_s: float = SCENE_S,
    gap_s: float = GAP_S,
    seed: int = 1,
) -> list[Shot]:
    """Write one replay clip of ``scenes`` in order, with empty frames before, between and
    after them, every frame ``size`` (width, height); return which frames show what.

    ``out`` ending in ``.mp4`` becomes an MPEG-4 video; anything else a folder of lossless
    PNG frames, which is what the demo plays: the attack frames already carry their own
    camera model (noise, JPEG), and one more lossy generation that no terminal's camera
    adds moved the liveness score of the same attack by up to 0.2 here.
    """
    import numpy as np

    from edge.capture.synth import _background, _noisy, _write_folder, _write_video

    if not scenes:
        raise ValueError("scenes is empty")
    per_scene = max(1, round(scene_s * fps))
    per_gap = max(1, round(gap_s * fps))
    rng = np.random.default_rng(seed)
    wall = _background(size[0], size[1], rng)
    shots: list[Shot] = []
    first = per_gap
    for scene in scenes:
        shots.append(Shot(scene, first, first + per_scene - 1))
        first += per_scene + per_gap
    total = first

    # A few noisy walls taken in turn: consecutive frames still differ (a frozen camera is
    # what the content check looks for), at a fraction of the cost of fresh noise each time.
    walls = [_noisy(wall, rng) for _ in range(GAP_VARIANTS)]

    def gap() -> Iterator[Any]:
        for index in range(per_gap):
            yield walls[index % len(walls)]

    def frames() -> Iterator[Any]:
        yield from gap()
        for scene in scenes:
            if scene.role is Role.ATTACK:
                yield from _attack_frames(scene, size, fps, per_scene, seed)
            else:
                yield from _live_frames(scene.source, wall, fps, per_scene)
            yield from gap()

    if out.suffix.lower() == ".mp4":
        _write_video(frames(), out, size, fps, total)
    else:
        _write_folder(frames(), out)
    return shots


def _attack_frames(
    scene: Scene, size: tuple[int, int], fps: float, count: int, seed: int
) -> Iterator[Any]:
    from edge.capture.attacks import AttackKind, AttackSpec, render_attack

    if scene.attack_kind == PROPPED:
        yield from _propped_frames(scene, size, fps, count, seed)
        return
    spec = AttackSpec(
        AttackKind(scene.attack_kind),
        scene.source,
        seed=ATTACK_SEED + seed,
        size=size,
        fps=fps,
        seconds=count / fps,
    )
    produced = 0
    for frame in render_attack(spec):
        if produced == count:
            break
        yield frame
        produced += 1
    if produced != count:
        raise DemoError(f"{spec}: the attack generator gave {produced} frames, not {count}")


def _propped_frames(
    scene: Scene, size: tuple[int, int], fps: float, count: int, seed: int
) -> Iterator[Any]:
    """A printed photo standing in front of a fixed camera: one rendered frame of the print,
    then the same scene with fresh sensor noise on every frame, as a camera delivers it."""
    import numpy as np

    from edge.capture.attacks import AttackKind, AttackSpec, render_attack

    spec = AttackSpec(
        AttackKind.PRINT_STILL, scene.source, seed=ATTACK_SEED + seed, size=size, fps=fps
    )
    still = next(iter(render_attack(spec))).astype(np.float32)
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield np.clip(still + rng.normal(0.0, 2.5, still.shape), 0, 255).astype(np.uint8)


def _live_frames(clip: Path, wall: Any, fps: float, count: int) -> Iterator[Any]:
    """``count`` frames of ``clip`` from ``PLAY_FROM_S`` at ``fps``, letterboxed onto ``wall``.
    A clip shorter than that plays back and forth (a person who steps back a little)."""
    import cv2
    import numpy as np

    source_fps, length = _clip_info(clip)
    wanted = [_bounce(round((PLAY_FROM_S + k / fps) * source_fps), length) for k in range(count)]
    decoded = _clip_frames(clip, wanted)
    height, width = wall.shape[:2]
    sample = decoded[wanted[0]]
    scale = min(width / sample.shape[1], height / sample.shape[0])
    w, h = round(sample.shape[1] * scale), round(sample.shape[0] * scale)
    x0, y0 = (width - w) // 2, (height - h) // 2
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if (w, h) == (width, height):
        for index in wanted:
            picture = cv2.resize(decoded[index], (w, h), interpolation=interpolation)
            yield np.ascontiguousarray(picture)
        return
    alpha = _feather(w, h, pad_x=w < width, pad_y=h < height)
    base = wall.copy()
    base[y0 : y0 + h, x0 : x0 + w] *= 1.0 - alpha
    for index in wanted:
        picture = cv2.resize(decoded[index], (w, h), interpolation=interpolation)
        frame = base.copy()
        frame[y0 : y0 + h, x0 : x0 + w] += picture.astype(np.float32) * alpha
        yield np.ascontiguousarray(np.clip(frame, 0, 255).astype(np.uint8))


def _bounce(index: int, length: int) -> int:
    if length <= 1:
        return 0
    period = 2 * (length - 1)
    phase = index % period
    return phase if phase < length else period - phase


def _feather(width: int, height: int, *, pad_x: bool, pad_y: bool) -> Any:
    import numpy as np

    def axis(n: int, fade: bool) -> Any:
        if not fade:
            return np.ones(n, dtype=np.float32)
        distance = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
        return np.clip((distance + 0.5) / FEATHER_PX, 0.0, 1.0)

    return np.outer(axis(height, pad_y), axis(width, pad_x)).astype(np.float32)[:, :, None]


def _clip_info(clip: Path) -> tuple[float, int]:
    import cv2

    capture = cv2.VideoCapture(str(clip))
    try:
        if not capture.isOpened():
            raise DemoError(f"{clip}: OpenCV cannot open this video")
        fps = float(capture.get(cv2.CAP_PROP_FPS)) or FPS
        length = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if length < 1:
        raise DemoError(f"{clip}: the video has no frames")
    return fps, length


def _clip_frames(clip: Path, indexes: Sequence[int]) -> dict[int, Any]:
    """The RGB frames of ``clip`` at ``indexes``, decoded in one pass."""
    import cv2

    wanted = set(indexes)
    found: dict[int, Any] = {}
    capture = cv2.VideoCapture(str(clip))
    try:
        index = 0
        while capture.isOpened() and index <= max(wanted):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                found[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
    if wanted - set(found):
        raise DemoError(f"{clip}: cannot decode frames {sorted(wanted - set(found))[:5]}")
    return found


# -- the run -----------------------------------------------------------------------------


def run_demo(
    *,
    faces_dir: Path | None = None,
    workdir: Path | None = None,
    pace: str = "realtime",
    builtin: bool = False,
    out: Callable[[str], object] = print,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the demo; returns the exit code (0 = everything shown came out as it should).

    ``environ`` (default ``os.environ``) is read only for ``HADIR_RECOGNITION__LIVENESS__*``.
    """
    environ = os.environ if environ is None else environ
    liveness_env = {k: v for k, v in environ.items() if k.upper().startswith(LIVENESS_ENV_PREFIX)}
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="hadir-demo-") as tmp:
            return _run(Path(tmp), faces_dir, pace, builtin, out, liveness_env)
    workdir.mkdir(parents=True, exist_ok=True)
    return _run(workdir, faces_dir, pace, builtin, out, liveness_env)


def _run(
    workdir: Path,
    faces_dir: Path | None,
    pace: str,
    builtin: bool,
    out: Callable[[str], object],
    liveness_env: Mapping[str, str],
) -> int:
    from edge.config import load_edge_config
    from edge.daemon.runner import EdgeDaemon
    from sync_server.admin_client import AdminApiError, AdminClient, AdminCredentials
    from sync_server.process import ServerProcess, ServerStartError

    faces_dir = None if builtin else (faces_dir or default_faces_dir())
    cast = (
        cast_from_shared_faces(faces_dir, workdir)
        if faces_dir is not None
        else cast_from_packaged_sample(workdir)
    )
    out(f"hadir demo in {workdir}")
    out(f"  sample faces: {cast.source}")

    clip = workdir / "camera"
    shots = compose_clip(cast.scenes, clip)
    seconds = (shots[-1].last_frame + 1) / FPS + GAP_S
    out(
        f"  camera: replay of {clip.name}/ (PNG frames), {FRAME_SIZE[0]}x{FRAME_SIZE[1]} at "
        f"{FPS:.0f} fps, {seconds:.0f} s:"
    )
    for shot in shots:
        start, end = shot.seconds()
        out(f"    {start:4.1f}-{end:4.1f} s  {shot.scene.describe()}")

    admin_token = secrets.token_urlsafe(24)
    server = ServerProcess(
        workdir, f"sqlite:///{workdir / 'server.db'}", admin_token, log_level="warning"
    )
    try:
        server.start()
    except ServerStartError as exc:
        raise DemoError(str(exc)) from exc
    out(f"  server: {server.url} (SQLite, log {server.log_path})")
    try:
        with AdminClient(AdminCredentials(server.url, admin_token)) as admin:
            token = admin.create_terminal(TERMINAL_ID, "default", "hadir demo")["token"]
            out(f"  terminal {TERMINAL_ID} registered")
            for person, photos in cast.enrolled.items():
                # The demo's people stand for staff who read and accepted the consent text.
                admin.create_person(
                    person,
                    person.replace("_", " ").title(),
                    consent={"channel": "cli", "collected_by": "hadir demo"},
                )
                for photo in photos:
                    try:
                        admin.upload_photo(person, photo)
                    except AdminApiError as exc:
                        out(f"  {person}: {photo.name} rejected ({exc.reason}): {exc}")
            names = ", ".join(
                f"{person} ({len(photos)} photo{'s' if len(photos) != 1 else ''})"
                for person, photos in cast.enrolled.items()
            )
            out(f"  enrolled at the server: {names}")

            token_file = workdir / "terminal_token"
            token_file.write_text(token)
            token_file.chmod(0o600)
            edge_toml = workdir / "edge.toml"
            edge_toml.write_text(
                f'data_dir = "{workdir / "edge"}"\n'
                f'[device]\nid = "{TERMINAL_ID}"\n'
                f'[capture.camera]\ntype = "replay"\npath = "{clip}"\npace = "{pace}"\n'
                f"fps = {FPS}\n"
                '[feedback]\ntype = "none"\n'
                f'[sync]\nserver_url = "{server.url}"\ntoken_file = "{token_file}"\n'
                "push_interval_s = 1\npull_interval_s = 5\nheartbeat_interval_s = 5\n"
            )
            config = load_edge_config(edge_toml, environ=liveness_env)
            mode = str(config.recognition.liveness.mode)
            out(f"  liveness check: {mode} ({MODE_MEANS.get(mode, '?')})")
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
            stats = daemon.stats()
            return _report(admin, cast, mode, stats, out)
    finally:
        server.stop(timeout=15.0)


def _progress(daemon: Any, runner: threading.Thread, out: Callable[[str], object]) -> None:
    tty = sys.stdout.isatty()
    last = ""
    while runner.is_alive():
        stats = daemon.stats()
        loop = daemon.loop.counters
        try:
            backlog = daemon.store.backlog().count
            flagged = sum(
                1
                for event in daemon.store.events()
                if event.liveness is not None and not event.liveness.passed
            )
        except HadirError:
            backlog = flagged = 0
        line = (
            f"  frames {stats['frames']:4d} | faces {loop['faces']:4d} | "
            f"recorded {stats['recorded']:2d} (flagged {flagged}) | "
            f"refused {stats.get('refused', 0):2d} | unknown {stats['unknown']:2d} | "
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


def _report(
    admin: Any, cast: Cast, mode: str, stats: Mapping[str, Any], out: Callable[[str], object]
) -> int:
    now = datetime.now(UTC)
    events = admin.events(
        start=(now - timedelta(days=1)).isoformat(), end=(now + timedelta(hours=1)).isoformat()
    )
    rows = events.get("events", events) if isinstance(events, dict) else events
    verdict = judge(cast, mode, rows, refused=int(stats.get("refused", 0)))
    for line in verdict.lines:
        out(line)
    return 0 if verdict.ok else 1


# -- the verdict -------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the demo showed, as lines to print, and whether it is what it should show."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def fail(self, line: str) -> None:
        self.lines.append(line)
        self.ok = False


def _liveness_text(event: Mapping[str, Any]) -> str:
    passed = event.get("liveness_passed")
    if passed is None:
        return "-"
    score = event.get("liveness_score")
    text = "live" if passed else "needs review"
    if isinstance(score, int | float) and math.isfinite(score):
        text += f" {score:.2f}"
    reasons = event.get("liveness_reasons")
    if not passed and reasons:
        text += f" ({reasons if isinstance(reasons, str) else ','.join(reasons)})"
    return text


def judge(
    cast: Cast, mode: str, events: Sequence[Mapping[str, Any]], *, refused: int
) -> Verdict:
    """Compare the server's events with what the clip showed, for liveness ``mode``.

    Live enrolled people must each be recorded, and not flagged (a flag on a live face is
    a false alarm); nobody else may be recorded except the attacked colleague, and only in
    ``flag`` mode with every one of their events flagged; in ``refuse`` mode the terminal
    must have refused at least once and recorded nothing for them.
    """
    by_person: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        by_person.setdefault(str(event["person_id"]), []).append(event)
    live = cast.people(Role.LIVE)
    strangers = cast.people(Role.STRANGER)
    attacked = cast.people(Role.ATTACK)
    role_text = {
        Role.LIVE: "walked up",
        Role.STRANGER: "not enrolled",
        Role.ATTACK: "photo shown",
    }
    roles = {scene.person: role_text[scene.role] for scene in cast.scenes}

    verdict = Verdict()
    verdict.lines += [
        "",
        "Today's attendance, read back from the server:",
        f"  {'person':28s} {'in front of the camera':24s} {'first in (UTC)':20s} "
        f"{'events':>6s}  liveness",
    ]
    for person in [*dict.fromkeys([*roles, *sorted(by_person)])]:
        got = by_person.get(person, [])
        first = min((str(e.get("corrected_time") or e.get("wall_time")) for e in got), default="-")
        liveness = "; ".join(dict.fromkeys(_liveness_text(e) for e in got)) or "-"
        verdict.lines.append(
            f"  {person:28s} {roles.get(person, 'never shown'):24s} {first[:19]:20s} "
            f"{len(got):6d}  {liveness}"
        )
    flagged = sum(1 for e in events if e.get("liveness_passed") is False)
    verdict.lines.append(f"  flagged for review: {flagged} | refused at the terminal: {refused}")

    missing = [p for p in live if p not in by_person]
    false_alarms = [
        p for p in live if any(e.get("liveness_passed") is False for e in by_person.get(p, []))
    ]
    intruders = sorted(set(by_person) - set(live) - set(attacked))
    said: list[str] = []
    if missing:
        verdict.fail(f"  NOT recorded: {', '.join(missing)} walked up live")
    if false_alarms:
        verdict.fail(f"  live faces flagged as attacks: {', '.join(false_alarms)}")
    if intruders:
        verdict.fail(f"  recorded but never shown live: {', '.join(intruders)}")
    if live and not missing and not false_alarms:
        said.append(f"all {len(live)} enrolled people who walked up were recorded and synced")
    if strangers and not intruders:
        said.append(f"the stranger ({', '.join(strangers)}) was not recorded")
    for person in attacked:
        got = by_person.get(person, [])
        photo = f"the held-up photo of {person}"
        if mode == "refuse":
            if got:
                verdict.fail(f"  {photo} was recorded: the attack got through")
            elif refused < 1:
                verdict.fail(f"  {photo} was neither recognised nor refused: nothing was shown")
            else:
                said.append(f"{photo} was refused")
        elif mode == "flag":
            if not got:
                verdict.fail(f"  {photo} was not recorded, so no flag was shown (not recognised)")
            elif all(e.get("liveness_passed") is False for e in got):
                said.append(f"{photo} was recorded and flagged for review")
            elif any(e.get("liveness_passed") for e in got):
                verdict.fail(f"  {photo} was recorded as a live punch: the attack got through")
            else:
                verdict.fail(f"  {photo} was recorded with no liveness result from the terminal")
        elif got:
            verdict.fail(
                f"  {photo} was recorded as a punch: the liveness check is {mode}, so nothing "
                "stops a photo"
            )
        else:
            verdict.fail(f"  {photo} was not recognised, and the liveness check is {mode}")
    if verdict.ok:
        verdict.lines.append("demo OK: " + "; ".join(said))
    else:
        worked = f" (what did work: {'; '.join(said)})" if said else ""
        verdict.lines.append("demo FAILED" + worked)
    return verdict
