"""Photo -> template with the terminals' own recognition code, off the event loop.

dlib is CPU-bound and its descriptor network keeps per-call state, so analyzers
are not shared between threads: a small per-process pool lends one analyzer to
one worker thread at a time, created lazily on the first upload (loading the
models takes about a second, which a server that only ingests never pays).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import RecognitionConfig
from edge.recognize.embedder import check_jitters
from edge.recognize.image import decode_image
from edge.recognize.matcher import Gallery
from edge.recognize.types import DESCRIPTOR_DIM, Descriptor
from sync_server.db import Database, current_version, templates


class _AnalyzerPool:
    def __init__(self, config: RecognitionConfig) -> None:
        self._config = config
        self._idle: list[FaceAnalyzer] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[FaceAnalyzer]:
        with self._lock:
            analyzer = self._idle.pop() if self._idle else None
        if analyzer is None:
            analyzer = FaceAnalyzer(self._config)
        try:
            yield analyzer
        finally:
            with self._lock:
                self._idle.append(analyzer)


_pools: dict[RecognitionConfig, _AnalyzerPool] = {}
_pools_lock = threading.Lock()


def _pool(config: RecognitionConfig) -> _AnalyzerPool:
    # Process-wide: every app built in this process (tests build many) reuses the models.
    with _pools_lock:
        pool = _pools.get(config)
        if pool is None:
            pool = _pools[config] = _AnalyzerPool(config)
        return pool


def nearest_distance(stored: Sequence[bytes], vector: bytes) -> float:
    """Distance from ``vector`` to the nearest of ``stored`` (templates as stored bytes).

    float64: a crafted row stored before decode_template bounded values cannot overflow.
    """
    matrix = np.frombuffer(b"".join(stored), dtype="<f4").reshape(-1, DESCRIPTOR_DIM)
    query = np.frombuffer(vector, dtype="<f4").astype(np.float64)
    squared = ((matrix.astype(np.float64) - query) ** 2).sum(axis=1)
    return float(np.sqrt(squared.min()))


def consensus(descriptors: Sequence[Descriptor], threshold: float) -> tuple[int, list[float]]:
    """The face most of several photos agree on, and every photo's distance to it.

    The anchor is the photo with the most others within ``threshold`` (ties: the smaller sum
    of distances, then the earlier photo), so one wrong photo among several right ones is the
    outlier whatever its place in the upload, and two photos that disagree keep the first.
    """
    matrix = np.stack([np.asarray(d, dtype=np.float64) for d in descriptors])
    gaps = np.sqrt(((matrix[:, None, :] - matrix[None, :, :]) ** 2).sum(axis=2))
    agree = (gaps <= threshold).sum(axis=1)
    anchor = min(range(len(descriptors)), key=lambda i: (-agree[i], gaps[i].sum(), i))
    return anchor, [float(d) for d in gaps[anchor]]


@dataclass(frozen=True, slots=True)
class Neighbour:
    person_id: str
    distance: float


class Enroller:
    def __init__(self, config: RecognitionConfig, workers: int, *, jitters: int = 0) -> None:
        self.config = config
        self.jitters = check_jitters(jitters)
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="hadir-enrol")
        self._gallery: tuple[int, Gallery] | None = None
        self._gallery_lock = threading.Lock()

    def describe(self, data: bytes, name: str) -> Descriptor:
        """The one usable face's descriptor; raises the ImageError subclass naming the problem."""
        rgb = decode_image(data, name=name, max_pixels=self.config.max_image_pixels)
        with _pool(self.config).borrow() as analyzer:
            return analyzer.enrolment_descriptor(rgb, name=name, jitters=self.jitters)

    async def describe_async(self, data: bytes, name: str) -> Descriptor:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.describe, data, name)

    def neighbours(self, db: Database, descriptor: Descriptor, person_id: str) -> list[Neighbour]:
        """Other people closer than the matching threshold, nearest first."""
        gallery = self._current_gallery(db)
        threshold = self.config.matching.threshold
        distances = gallery.person_distances(descriptor)
        found = [
            Neighbour(pid, float(d))
            for pid, d in zip(gallery.person_ids, distances, strict=True)
            if pid != person_id and d < threshold
        ]
        return sorted(found, key=lambda n: n.distance)

    def _current_gallery(self, db: Database) -> Gallery:
        # Every template change bumps the enrolment version, so it keys the cache exactly.
        with db.read() as conn:
            version = current_version(conn)
            cached = self._gallery
            if cached is not None and cached[0] == version:
                return cached[1]
            rows = conn.execute(sa.select(templates.c.person_id, templates.c.vector)).all()
        if rows:
            matrix = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4")
            gallery = Gallery.from_rows(
                [r.person_id for r in rows], matrix.reshape(-1, DESCRIPTOR_DIM).astype(np.float32)
            )
        else:
            gallery = Gallery.empty()
        with self._gallery_lock:
            self._gallery = (version, gallery)
        return gallery

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
