"""The per-frame recognition loop: detect cheaply, track, describe rarely, decide per track.

Throughput is bounded by detection, first-recognition latency by the descriptor
(~80 ms on a Pi-class CPU), so:

* the whole frame is scanned for new faces only every ``full_scan_every``
  frames; in between, only a region around each tracked face is searched, at a
  scale that brings the face to ~``roi_face_px`` (which also recovers faces a
  little under HOG's ~80 px minimum);
* a decided face is searched only every ``confirm_every`` frames; in between it
  glides (``glide.py``: its picture matched around where it should be), and a face
  missed twice in a row is searched every third frame until it is back;
* with a scan worker (``scanner.py``, on multi-core devices) the whole-frame scans
  run in a second process: every frame only searches the regions of known faces,
  and a scan's answer, a few frames later, starts tracks for the faces it found
  that nobody was following (``_adopt``);
* while nobody is tracked and the picture does not change, the idle gate
  (``idle.py``) skips grey conversion and detection altogether; the frame that
  wakes it is scanned whole at once;
* a descriptor is computed only for an undecided track: when it is new, when
  its quality clearly improved, or at most every ``relook_interval_s``;
* at most ``descriptors_per_frame`` descriptors per frame: in a crowd the faces
  most likely to decide (best quality score: large, sharp, frontal) go first,
  and the others keep their best views as aligned chips, so a face that leaves
  before its turn is still described, and decided, when its track is lost;
* a track is accepted after ``looks_to_accept`` consecutive looks that each
  accept the same person, and reported unknown after ``looks_to_reject`` good
  looks that accept nobody. Faces failing the quality gates never decide.

The loop does not touch the store or the LEDs: it returns decisions, and the
daemon records them (so tests and benchmarks can drive it directly).
"""

from __future__ import annotations

import enum
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import structlog

from edge.recognize.config import RecognitionConfig
from edge.recognize.detector import FaceDetector, create_detector, to_grey
from edge.recognize.embedder import FaceEmbedder
from edge.recognize.glide import FacePatch
from edge.recognize.idle import IdleGate
from edge.recognize.liveness import LivenessMode, LivenessVerdict
from edge.recognize.liveness.evidence import LivenessChecker, TrackEvidence
from edge.recognize.matcher import Match, Matcher
from edge.recognize.quality import Quality, assess
from edge.recognize.scanner import Scanner, ScanResult
from edge.recognize.timing import StageTimings
from edge.recognize.types import Box, Descriptor, Detection, Image

log = structlog.get_logger(__name__)


class FrameLike(Protocol):
    """What the loop needs of a captured frame (edge.capture.Frame fits)."""

    @property
    def image(self) -> Image: ...

    @property
    def index(self) -> int: ...

    @property
    def monotonic(self) -> float: ...


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Decision:
    """A track was decided: a recognised person, or an unknown face."""

    verdict: Verdict
    track_id: int
    person_id: str | None
    match: Match
    frame_index: int
    monotonic: float
    looks: int
    # None when [recognition.liveness] mode is off, or for an unknown face.
    liveness: LivenessVerdict | None = None
    # Monotonic time of the first frame in which the face passed the quality gates.
    first_usable: float | None = None
    # Decided when its track was lost: the face has left, nobody is there to see feedback.
    departed: bool = False


@dataclass(frozen=True, slots=True)
class _View:
    """A usable sighting of an undecided face in the current frame, waiting for a descriptor."""

    track: Track
    shape: Any  # dlib landmark object, input to the descriptor
    score: float


@dataclass(frozen=True, slots=True)
class _Spare:
    """A usable view that got no descriptor: dlib's aligned 150x150 face chip (~67 KB; the
    frame itself would be megabytes) and its quality score."""

    chip: Image
    score: float


@dataclass(slots=True)
class Track:
    """One face followed across frames."""

    id: int
    box: Box
    first_seen: float
    last_seen: float
    first_frame: int
    verdict: Verdict | None = None
    looks: list[Match] = field(default_factory=list)
    best_look_score: float = 0.0
    last_look_at: float | None = None
    first_look_at: float | None = None
    frames_seen: int = 1
    reference: Descriptor | None = None  # descriptor of the latest look
    evidence: TrackEvidence | None = None  # liveness, while undecided
    pending: Match | None = None  # recognised, waiting for enough liveness evidence
    first_usable: float | None = None
    departed: bool = False  # lost from view: whatever is decided now is decided after it left
    recheck: bool = False  # decided, back after a gap: check it is still the same person
    spares: list[_Spare] = field(default_factory=list)  # best views since the last look
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per second
    # Started from a scan worker's answer about an earlier frame: not yet found in a live one.
    adopted_at: float | None = None  # the frame in which the answer came
    # Recent (time, box): where was this face when a frame now answered by the scan worker
    # was captured?
    trail: deque[tuple[float, Box]] = field(default_factory=lambda: deque(maxlen=TRAIL))
    # The face as the detector last found it, for gliding between searches (glide.py).
    patch: FacePatch | None = None
    # When its search first found only a face another track kept (since its last sighting).
    yielded_at: float | None = None
    searched_at: int = 0  # loop frame of the detector's last sighting
    seen_at: int = 0  # loop frame of the last sighting: searched, glided or from a scan

    @property
    def decided(self) -> bool:
        return self.verdict is not None

    @property
    def adopted(self) -> bool:
        """Started, or moved, by a scan worker's answer; not yet found in a live frame."""
        return self.adopted_at is not None

    def follow(self, box: Box, now: float) -> None:
        """The face was found at ``box``: move there and update its velocity (smoothed:
        one jittery detection must not fling the prediction)."""
        gap = now - self.last_seen
        self.trail.append((now, box))
        self.adopted_at = None
        self.yielded_at = None
        if gap > 0:
            (x0, y0), (x1, y1) = self.box.center, box.center
            vx, vy = self.velocity
            self.velocity = ((vx + (x1 - x0) / gap) / 2, (vy + (y1 - y0) / gap) / 2)
        self.box = box
        self.last_seen = now

    def predicted(self, now: float) -> Box:
        """Where the face should be at ``now`` if it kept walking: someone crossing the view
        moves more than half a face width between processed frames, too far for the
        overlap with the last box to continue the track."""
        dt = now - self.last_seen
        dx, dy = round(self.velocity[0] * dt), round(self.velocity[1] * dt)
        b = self.box
        return Box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy)

    def sighting_at(self, when: float) -> tuple[float, Box]:
        """The kept sighting nearest to ``when``: its time and where the face was."""
        if not self.trail:
            return self.last_seen, self.box
        return min(self.trail, key=lambda seen: abs(seen[0] - when))


class RecognitionLoop:
    """Frames in, decisions out. Not thread-safe: one loop per camera thread."""

    def __init__(
        self,
        config: RecognitionConfig,
        matcher: Matcher,
        *,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        timings: StageTimings | None = None,
        liveness: LivenessChecker | None = None,
        scanner: Scanner | None = None,
    ) -> None:
        self.config = config
        self.matcher = matcher
        self.detector = detector or create_detector(config.detector)
        self.embedder = embedder or FaceEmbedder()
        self.timings = timings or StageTimings()
        if liveness is None and config.liveness.mode is not LivenessMode.OFF:
            liveness = LivenessChecker(config.liveness)
        self.liveness = liveness
        self.idle = IdleGate(config.idle) if config.idle.enabled else None
        self.scanner = scanner
        self._submitted_at = -config.tracking.full_scan_every  # frame of the last scan asked for
        self._scan_now = False  # the idle gate woke: scan this frame whole
        self._tracks: dict[int, Track] = {}
        self._glided: set[int] = set()  # tracks found by gliding in this frame
        # (dropped, kept): tracks that claimed a face another track kept, most recent last.
        self.dropped: deque[tuple[int, int]] = deque(maxlen=TRAIL)
        self._ids = itertools.count(1)
        self._frames = 0
        self.counters = {
            "frames": 0,
            "faces": 0,
            "descriptors": 0,
            "poor_quality": 0,
            "accepted": 0,
            "unknown": 0,
            "not_live": 0,
            "deferred": 0,
        }

    @property
    def tracks(self) -> Sequence[Track]:
        return list(self._tracks.values())

    def process(self, frame: FrameLike) -> list[Decision]:
        """Run one frame through detection, tracking and decisions."""
        self._frames += 1
        self.counters["frames"] += 1
        now = frame.monotonic
        # Expire first: a frame that comes after a long gap (a stalled camera) must not match
        # the old tracks, whose positions mean nothing any more.
        decisions = self._expire(frame)
        if self._rests(frame):
            return decisions
        with self.timings.stage("grey"):
            grey = to_grey(frame.image)
        with self.timings.stage("detect"):
            seen = self._detect(grey, now)
        tracking = self.config.tracking
        views: list[_View] = []
        checks: list[tuple[Track, Detection]] = []
        for track, detection in seen:
            gap = now - track.last_seen
            track.follow(detection.box, now)
            track.seen_at = self._frames
            if track.id not in self._glided:
                # Cut for every search's hit (~0.05 ms): a face decided in this frame glides
                # from the next one.
                track.searched_at = self._frames
                track.patch = FacePatch.cut(grey, detection.box)
            self.counters["faces"] += 1
            if track.decided:
                # Back after a gap it may be someone else: checked as soon as the budget
                # allows, however many frames that takes.
                track.recheck = track.recheck or gap >= tracking.reacquire_gap_s
                due = _since(track.last_look_at, now) >= tracking.reverify_interval_s
                if track.recheck or due:
                    checks.append((track, detection))
                continue
            self._gather_liveness(track, detection, grey, now)
            if track.pending is not None:
                decision = self._decide_pending(track, frame)
                if decision is not None:
                    decisions.append(decision)
                continue
            view = self._view(track, detection, frame, grey)
            if view is not None:
                views.append(view)
        decisions += self._overdue(frame, {track.id for track, _ in seen})
        decisions += self._spend(views, checks, frame, grey)
        return decisions

    def _overdue(self, frame: FrameLike, seen: set[int]) -> list[Decision]:
        """Recognised faces not found in this frame whose wait for liveness evidence is over
        (``liveness.max_wait_s``): decided on what they showed, as they would have been had
        the search found them; a face the search misses for a while (it turned, or is small
        and far) would otherwise wait until it is found again or its track ends."""
        decisions: list[Decision] = []
        for track in list(self._tracks.values()):
            if track.pending is None or track.id in seen:
                continue
            decision = self._decide_pending(track, frame)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def reset(self) -> None:
        """Forget every track (after the camera reconnects: positions are meaningless)."""
        self._tracks.clear()
        if self.idle is not None:
            self.idle.reset()

    # -- detection and tracking ------------------------------------------------------------

    def _rests(self, frame: FrameLike) -> bool:
        """May this frame skip detection? Only with the idle gate on, nobody tracked and
        nothing changed (edge/recognize/idle.py); a frame that wakes the gate is scanned whole."""
        if self.idle is None:
            return False
        # A scan in flight must be collected, so it counts as following faces.
        busy = self.scanner is not None and self.scanner.busy
        with self.timings.stage("idle"):
            gate = self.idle.check(
                frame.image, frame.monotonic, tracking=bool(self._tracks) or busy
            )
        self._scan_now = gate.full_scan
        return gate.rest

    def _detect(self, grey: Image, now: float) -> list[tuple[Track, Detection]]:
        tracking = self.config.tracking
        # Scan cadence does not depend on tracks: an empty hallway costs one scan per
        # N frames, and a newcomer waits at most N-1 frames to be found.
        scan_now, self._scan_now = self._scan_now, False
        self._glided.clear()
        scanner = self.scanner if self.scanner is not None and self.scanner.ready else None
        if scanner is not None:
            result = scanner.poll()
            if result is not None:
                self._adopt(result, now)
            due = self._frames - self._submitted_at >= tracking.full_scan_every
            if (scan_now or due) and scanner.submit(grey, self._frames, now):
                self._submitted_at = self._frames
            return self._follow(grey, now)
        if scan_now or (self._frames - 1) % tracking.full_scan_every == 0:
            detections = self.detector.detect(grey)[: tracking.max_tracks]
            if self.idle is not None:
                self.idle.scanned(now, faces=len(detections))
            return self._one_track_per_face(self._associate(detections, now), now)
        return self._follow(grey, now)

    def _follow(self, grey: Image, now: float) -> list[tuple[Track, Detection]]:
        """Search the region around each tracked face (where it should be by now)."""
        tracking = self.config.tracking
        found: list[tuple[Track, Detection]] = []
        for track in list(self._tracks.values()):
            box = track.predicted(now)
            if self._glides(track, now):
                assert track.patch is not None
                glided = track.patch.find(grey, box)
                if glided is not None:
                    self._glided.add(track.id)
                    found.append((track, Detection(*glided)))
                    continue
            elif self._rests_search(track):
                continue
            margin = tracking.roi_margin
            if track.adopted or not track.decided:
                # The longer ago it was seen, the farther it may have walked: a face known
                # only from a frame the worker scanned a while ago, or an undecided face the
                # search has missed (it walked faster than its velocity says, and a region
                # that cuts a face at its edge hides it from HOG; its liveness evidence and
                # its looks wait while it is lost).
                margin += ADOPTED_DRIFT * min(MAX_DRIFT_S, max(0.0, now - track.last_seen))
            pad_x = round(box.width * margin)
            pad_y = round(box.height * margin)
            region = Box(box.left - pad_x, box.top - pad_y, box.right + pad_x, box.bottom + pad_y)
            scale = tracking.roi_face_px / max(1, box.width)
            hits = [
                hit
                for hit in self.detector.detect_region(grey, region, scale)
                if _same_size(hit.box, box)
            ]
            if not hits:
                continue
            if track.adopted:
                # No overlap needed: the face has moved since; the nearest face of its size.
                best = min(hits, key=lambda d: _distance(d.box, box))
                found.append((track, best))
                continue
            best = max(hits, key=lambda d: d.box.iou(box))
            if best.box.iou(box) >= tracking.min_iou / 2:
                found.append((track, best))
        return self._one_track_per_face(found, now)

    def _rests_search(self, track: Track) -> bool:
        """Is a face the search missed in the last two frames searched for only every third
        frame? It has turned away, is hidden, or has left: a search finds it in one frame of
        three as well, while the whole-frame scans (or the worker's) look for it too, and in
        a crowd these empty searches were 40% of the region searches and a third of their
        cost. A face a scan reported counts as seen in the frame its answer came."""
        missed = self._frames - track.seen_at - 1
        return missed >= 2 and missed % 3 != 0

    def _glides(self, track: Track, now: float) -> bool:
        """May this track be followed by its picture instead of the detector this frame?
        Only a decided face, seen in the previous frame, searched by the detector within the
        last ``confirm_every`` frames, and not due for a check of who it is (a check needs
        the detector's box for its landmarks)."""
        tracking = self.config.tracking
        if (
            tracking.confirm_every <= 1
            or not track.decided
            or track.recheck
            or track.adopted
            or track.seen_at != self._frames - 1
            or self._frames - track.searched_at >= tracking.confirm_every
            or _since(track.last_look_at, now) >= tracking.reverify_interval_s
        ):
            return False
        return track.patch is not None

    def _adopt(self, result: ScanResult, now: float) -> None:
        """A scan from the worker came back. Each face in it is matched with the track that
        was following it when that frame was captured:

        * no such track: a newcomer; an adopted track starts at the scanned position and the
          region search that follows finds it in the current frame, or it expires unseen;
        * a track the live search has missed since: the scan found the face where the search
          did not (HOG finds a turned or blurred face at one scale and not at another), so
          the track moves there and lives on, instead of expiring and coming back as a new
          face to be decided again (if it is someone else by now, the check of a face back
          after a gap splits it).
        """
        tracking = self.config.tracking
        when = result.monotonic
        detections = result.detections[: tracking.max_tracks]
        if self.idle is not None:
            self.idle.scanned(when, faces=len(detections))
        claimed: set[int] = set()
        for det in detections:
            track = self._scanned_track(det.box, when, claimed)
            if track is not None:
                claimed.add(track.id)
                if track.last_seen < when:
                    track.box, track.last_seen, track.velocity = det.box, when, (0.0, 0.0)
                    track.adopted_at = now
                    track.seen_at = self._frames
                    log.debug("track_rescued", track_id=track.id, box=_box(det.box))
                continue
            if len(self._tracks) >= tracking.max_tracks:
                continue
            track = Track(next(self._ids), det.box, when, when, self._frames)
            track.adopted_at = now
            track.seen_at = self._frames
            self._tracks[track.id] = track
            claimed.add(track.id)
            log.debug(
                "track_started",
                track_id=track.id,
                box=_box(det.box),
                scanned_frame=result.frame_index,
            )

    def _scanned_track(self, box: Box, when: float, claimed: set[int]) -> Track | None:
        """The track that followed the face at ``box`` at time ``when``: overlapping its
        sighting nearest that time, or (a face the live search lost a while before) within
        the distance it could have walked since."""
        best: Track | None = None
        best_score = 0.0
        for track in self._tracks.values():
            seen_at, seen = track.sighting_at(when)
            if track.id in claimed or not _same_size(box, seen):
                continue
            overlap = box.iou(seen)
            if overlap >= self.config.tracking.min_iou:
                score = 1.0 + overlap  # any overlap beats any distance
            else:
                gone = min(MAX_DRIFT_S, abs(when - seen_at))
                reach = seen.width * (0.5 + ADOPTED_DRIFT * gone)
                distance = _distance(box, seen)
                if distance > reach:
                    continue
                score = 1.0 - distance / reach
            if best is None or score > best_score:
                best, best_score = track, score
        return best

    def close(self) -> None:
        """Stop the scan worker, if any. Idempotent."""
        if self.scanner is not None:
            self.scanner.close()

    def _one_track_per_face(
        self, found: list[tuple[Track, Detection]], now: float
    ) -> list[tuple[Track, Detection]]:
        """Two tracks claiming one face (a newcomer found by a scan while the region search
        of a departed person's track finds it too) would decide it twice: the track whose
        previous box fits the face best keeps it. The other is dropped if it never saw a
        usable face (a scan's duplicate); one with a usable history misses this frame
        instead: its own face may have turned away or left, and it must still be decided
        from the views it kept (at worst the same face is decided twice, never not at all)."""
        kept: list[tuple[Track, Detection]] = []
        # A track adopted from an older scan loses to one that followed the face live.
        ranked = sorted(
            found, key=lambda p: (not p[0].adopted, p[0].box.iou(p[1].box)), reverse=True
        )
        for track, det in ranked:
            twin = next((t for t, other in kept if det.box.iou(other.box) > 0.5), None)
            if twin is None:
                kept.append((track, det))
                continue
            if track.first_usable is None or track.decided:
                self._tracks.pop(track.id, None)
                self.dropped.append((track.id, twin.id))
            elif track.yielded_at is None:
                track.yielded_at = now
            log.debug(
                "track_dropped" if track.id not in self._tracks else "track_yielded",
                track_id=track.id,
                kept_track_id=twin.id,
                looks=len(track.looks),
                kept_looks=len(twin.looks),
                adopted=track.adopted,
                kept_adopted=twin.adopted,
            )
        return kept

    def _associate(self, detections: list[Detection], now: float) -> list[tuple[Track, Detection]]:
        """Greedy IoU matching of detections to tracks; unmatched detections start tracks."""
        pairs = sorted(
            (
                (det.box.iou(track.predicted(now)), i, track.id)
                for i, det in enumerate(detections)
                for track in self._tracks.values()
                if _same_size(det.box, track.box)
            ),
            reverse=True,
        )
        used_det: set[int] = set()
        used_track: set[int] = set()
        result: list[tuple[Track, Detection]] = []
        for iou, i, track_id in pairs:
            if iou < self.config.tracking.min_iou:
                break
            if i in used_det or track_id in used_track:
                continue
            used_det.add(i)
            used_track.add(track_id)
            track = self._tracks[track_id]
            track.frames_seen += 1
            result.append((track, detections[i]))
        for i, det in enumerate(detections):
            if i in used_det:
                continue
            # A face the region search lost a few frames ago, no longer where its velocity
            # put it (it turned, stopped or changed pace): the track within reach keeps it,
            # rather than a second track deciding the same face again.
            lost = self._scanned_track(det.box, now, used_track)
            if lost is not None:
                used_track.add(lost.id)
                lost.frames_seen += 1
                log.debug("track_rescued", track_id=lost.id, box=_box(det.box))
                result.append((lost, det))
                continue
            if len(self._tracks) >= self.config.tracking.max_tracks:
                continue
            track = Track(next(self._ids), det.box, now, now, self._frames)
            self._tracks[track.id] = track
            log.debug("track_started", track_id=track.id, box=_box(det.box))
            result.append((track, det))
        return result

    def _expire(self, frame: FrameLike) -> list[Decision]:
        """Forget tracks not seen for ``max_missed_s``, or that walked out of the picture. A
        recognised face that was still gathering liveness evidence when it left is decided
        on the evidence it gave: a person who walks past quickly is still recorded."""
        limit = self.config.tracking.max_missed_s
        height, width = frame.image.shape[:2]
        decided: list[Decision] = []
        for track_id, track in list(self._tracks.items()):
            # An adopted face's scan may be older than the limit (a Pi scans 1080p in ~1 s):
            # it gets the limit from when the loop learnt of it.
            last = max(track.last_seen, track.adopted_at or track.last_seen)
            yielded = track.yielded_at is not None and frame.monotonic - track.yielded_at > YIELD_S
            gone = yielded or self._walked_out(track, frame, width, height)
            if frame.monotonic - last > limit or gone:
                del self._tracks[track_id]
                track.departed = True
                decision: Decision | None = None
                if track.pending is not None:
                    decision = self._decide_pending(track, frame, lost=True)
                elif track.verdict is None:
                    decision = self._decide_lost(track, frame)
                if decision is not None:
                    decided.append(decision)
        return decided

    def _walked_out(self, track: Track, frame: FrameLike, width: int, height: int) -> bool:
        """Missed in the last two frames, and where its walk has taken it by now is mostly
        outside the picture: the person has left, and waiting ``max_missed_s`` for them to
        come back would only put off deciding a face that walked past undecided."""
        if track.adopted or self._frames - track.seen_at <= 2:
            return False
        box = track.predicted(frame.monotonic)
        return box.clipped(width, height).area < 0.5 * box.area

    # -- looks and decisions ---------------------------------------------------------------

    def _view(
        self, track: Track, detection: Detection, frame: FrameLike, grey: Image
    ) -> _View | None:
        """Landmarks and quality of an undecided face; a view when it wants a descriptor now."""
        with self.timings.stage("landmarks"):
            shape = self.embedder.shape(grey, detection.box)
            landmarks = self.embedder.landmarks(shape)
            quality = assess(grey, detection.box, landmarks, self.config.quality)
        if not quality.ok:
            self.counters["poor_quality"] += 1
            return None
        if track.first_usable is None:
            track.first_usable = frame.monotonic
        view = _View(track, shape, quality.score)
        if not self._wants_look(track, quality, frame.monotonic):
            self._keep_spare(view, frame)
            return None
        return view

    def _spend(
        self,
        views: list[_View],
        checks: list[tuple[Track, Detection]],
        frame: FrameLike,
        grey: Image,
    ) -> list[Decision]:
        """Compute at most ``descriptors_per_frame`` descriptors. Undecided faces go first,
        best quality score first: those are the looks most likely to decide, and a small or
        blurred face gains most from waiting while it walks closer. Checks of decided faces
        come last, a face back after a gap before a routine re-check."""
        budget = self.config.decision.descriptors_per_frame
        decisions: list[Decision] = []
        for view in sorted(views, key=lambda v: v.score, reverse=True):
            if budget <= 0:
                self.counters["deferred"] += 1
                self._keep_spare(view, frame)
                continue
            budget -= 1
            with self.timings.stage("descriptor"):
                descriptor = self.embedder.describe(frame.image, view.shape)
            decision = self._add_look(view.track, descriptor, view.score, frame)
            if decision is not None:
                decisions.append(decision)
        for track, detection in sorted(checks, key=lambda c: not c[0].recheck):
            if budget <= 0:
                break
            described = self.counters["descriptors"]
            newcomer = self._verify(track, detection, frame, grey)
            budget -= self.counters["descriptors"] - described
            if newcomer is not None:
                decision = self._decide(newcomer, frame)
                if decision is not None:
                    decisions.append(decision)
        return decisions

    def _keep_spare(self, view: _View, frame: FrameLike) -> None:
        """Keep the best ``looks_to_accept`` views since the track's last look, as chips."""
        spares = view.track.spares
        keep = self.config.decision.looks_to_accept
        if len(spares) >= keep and view.score <= spares[-1].score:
            return
        with self.timings.stage("chip"):
            chip = self.embedder.chip(frame.image, view.shape)
        spares.append(_Spare(chip, view.score))
        spares.sort(key=lambda spare: spare.score, reverse=True)
        del spares[keep:]

    def _add_look(
        self, track: Track, descriptor: Descriptor, score: float, frame: FrameLike
    ) -> Decision | None:
        self.counters["descriptors"] += 1
        with self.timings.stage("match"):
            match = self.matcher.match(descriptor)
        track.looks.append(match)
        track.best_look_score = max(track.best_look_score, score)
        track.last_look_at = frame.monotonic
        track.reference = descriptor
        track.spares.clear()  # views older than this look add no new evidence
        if track.first_look_at is None:
            track.first_look_at = frame.monotonic
        return self._decide(track, frame)

    def _decide_lost(self, track: Track, frame: FrameLike) -> Decision | None:
        """A face left undecided: its best unused views are described now (the budget
        does not apply: this is its last chance), and it is decided on all its looks.
        Only a face that never passed the quality gates stays undecided."""
        spares, track.spares = track.spares, []
        for spare in spares:
            if track.pending is not None:
                break  # recognised; a further look could only undo it
            with self.timings.stage("descriptor"):
                descriptor = self.embedder.describe_chip(spare.chip)
            decision = self._add_look(track, descriptor, spare.score, frame)
            if decision is not None:
                return decision
        if track.pending is not None:
            return self._decide_pending(track, frame, lost=True)
        if track.looks:
            return self._decide(track, frame, lost=True)
        return None

    def _verify(
        self, track: Track, detection: Detection, frame: FrameLike, grey: Image
    ) -> Track | None:
        """Is a decided track still the same person? Returns the newcomer's track if not."""
        with self.timings.stage("landmarks"):
            shape = self.embedder.shape(grey, detection.box)
            quality = assess(
                grey, detection.box, self.embedder.landmarks(shape), self.config.quality
            )
        if not quality.ok:
            return None
        with self.timings.stage("descriptor"):
            descriptor = self.embedder.describe(frame.image, shape)
        self.counters["descriptors"] += 1
        track.last_look_at = frame.monotonic
        track.recheck = False
        reference = track.reference
        if reference is None or float(np.linalg.norm(descriptor - reference)) <= (
            self.config.tracking.split_distance
        ):
            track.reference = descriptor
            return None
        # Someone else stands where the decided face was: a new track, with this look.
        self._tracks.pop(track.id, None)
        with self.timings.stage("match"):
            match = self.matcher.match(descriptor)
        newcomer = Track(
            next(self._ids),
            detection.box,
            frame.monotonic,
            frame.monotonic,
            self._frames,
            looks=[match],
            best_look_score=quality.score,
            last_look_at=frame.monotonic,
            first_look_at=frame.monotonic,
            reference=descriptor,
            first_usable=frame.monotonic,
        )
        self._tracks[newcomer.id] = newcomer
        log.info(
            "track_split",
            track_id=track.id,
            new_track_id=newcomer.id,
            distance=round(float(np.linalg.norm(descriptor - reference)), 3),
        )
        return newcomer

    def _wants_look(self, track: Track, quality: Quality, now: float) -> bool:
        rules = self.config.decision
        if track.last_look_at is None:
            return True
        if quality.score > track.best_look_score * (1.0 + rules.improve_ratio):
            return True
        return now - track.last_look_at >= rules.relook_interval_s

    def _decide(self, track: Track, frame: FrameLike, *, lost: bool = False) -> Decision | None:
        """``lost``: the face has left and no more looks will come, so what did not accept
        is unknown now, however few its looks."""
        rules = self.config.decision
        matching = self.config.matching
        last = track.looks[-rules.looks_to_accept :]
        if (
            len(last) == rules.looks_to_accept
            and all(m.accepted(matching) for m in last)
            and len({m.person_id for m in last}) == 1
        ):
            track.pending = last[-1]
            return self._decide_pending(track, frame, lost=lost)
        misses = sum(1 for m in track.looks if not m.accepted(matching))
        if lost or (
            misses >= rules.looks_to_reject and _usable_for(track, frame) >= rules.reject_after_s
        ):
            return self._finish(track, Verdict.UNKNOWN, track.looks[-1], frame)
        return None

    # -- liveness --------------------------------------------------------------------------

    def _gather_liveness(self, track: Track, detection: Detection, grey: Image, now: float) -> None:
        """One more frame of liveness evidence for an undecided track (none once decided)."""
        if self.liveness is None:
            return
        if track.evidence is None:
            track.evidence = self.liveness.start()
        with self.timings.stage("liveness"):
            track.evidence.observe(grey, detection.box, now)

    def _decide_pending(
        self, track: Track, frame: FrameLike, *, lost: bool = False
    ) -> Decision | None:
        """Accept a recognised track once its liveness evidence is in (or waited long enough,
        or the face left): identity and liveness are decided together, so a picture is never
        half-recorded."""
        match = track.pending
        assert match is not None
        evidence = track.evidence
        if self.liveness is None or evidence is None:
            return self._finish(track, Verdict.ACCEPTED, match, frame)
        waited = _usable_for(track, frame)
        if not lost and not evidence.ready and waited < self.liveness.config.max_wait_s:
            return None
        verdict = evidence.verdict()
        if not verdict.live:
            self.counters["not_live"] += 1
        return self._finish(track, Verdict.ACCEPTED, match, frame, verdict)

    def _finish(
        self,
        track: Track,
        verdict: Verdict,
        match: Match,
        frame: FrameLike,
        liveness: LivenessVerdict | None = None,
    ) -> Decision:
        track.verdict = verdict
        track.pending = None
        track.evidence = None  # a decided track gathers nothing more
        track.spares.clear()
        self.counters[verdict.value] += 1
        person = match.person_id if verdict is Verdict.ACCEPTED else None
        extra: dict[str, Any] = {}
        if liveness is not None:
            extra = {"live": liveness.live, "liveness": liveness.score, "reason": liveness.reason}
        if track.first_usable is not None:
            extra["usable_for_s"] = round(frame.monotonic - track.first_usable, 3)
        log.info(
            "face_decided",
            verdict=verdict.value,
            track_id=track.id,
            person_id=person,
            nearest=match.person_id,
            distance=round(match.distance, 3),
            margin=round(min(match.margin, 9.0), 3),
            looks=len(track.looks),
            frame=frame.index,
            departed=track.departed,
            **extra,
        )
        return Decision(
            verdict,
            track.id,
            person,
            match,
            frame.index,
            frame.monotonic,
            len(track.looks),
            liveness,
            track.first_usable,
            track.departed,
        )

    def stats(self) -> dict[str, Any]:
        idle = {} if self.idle is None else {"idle": self.idle.stats()}
        return {**self.counters, "tracks": len(self._tracks), **idle}


YIELD_S = 0.25
"""A track whose search finds only a face another track keeps, for this long, has lost its
own face (it turned away or left while a neighbour stood close): it ends then and is decided
from its views, instead of after ``max_missed_s``. Long enough for two faces that overlap as
they pass each other to come apart."""

TRAIL = 64
"""Sightings kept per track: two seconds at 30 fps, longer than a scan takes on a Pi."""

MAX_DRIFT_S = 0.5
"""The widening stops at half a second's walk: the region is then ~5 face widths across and
costs the region search about 5x its usual time, in every frame the face is not found; a
face that walked farther is found by the next scan."""

ADOPTED_DRIFT = 3.0
"""Face widths per second an adopted face may have moved since its scanned frame: a brisk
walk across the view; farther than that, the next scan finds it again."""


# A face's box changes little between processed frames (dlib's pyramid steps are ~1.2x; a
# walker's face grows a few percent a frame). A hit half the size inside a tracked face's
# region is a part of it, or of a neighbour: following it loses the face.
_MAX_SIZE_CHANGE = 1.5


def _same_size(a: Box, b: Box) -> bool:
    return max(a.width, b.width) <= _MAX_SIZE_CHANGE * max(1, min(a.width, b.width))


def _distance(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return float(np.hypot(ax - bx, ay - by))


def _usable_for(track: Track, frame: FrameLike) -> float:
    """How long the person has shown a usable face: the waits for a decision count from
    then, not from the first descriptor, which may come frames later when a crowd's
    descriptors queue for the per-frame budget; the person at the wall waits either way."""
    start = track.first_usable if track.first_usable is not None else track.first_look_at
    return _since(start, frame.monotonic)


def _since(start: float | None, now: float) -> float:
    """Seconds from ``start`` to ``now``, 0 without a start: a monotonic time of 0.0 is a
    time like any other (a replay's first frame), not a missing one."""
    return 0.0 if start is None else now - start


def _box(box: Box) -> list[int]:
    return [box.left, box.top, box.width, box.height]
