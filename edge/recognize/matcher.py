"""1:N search of a descriptor against the enrolled templates.

Templates live in one ``(N, 128)`` float32 matrix, grouped so each person's rows
are contiguous. With the squared norms precomputed, all N distances are one
matrix-vector product: ``|t - q|^2 = |t|^2 - 2 t.q + |q|^2``.

A :class:`Gallery` is immutable; :class:`Matcher` holds the current one and
swaps it with a single reference assignment, so a reader that took the
reference keeps a complete, consistent gallery however the swap interleaves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.errors import GalleryError
from edge.recognize.config import MatchingConfig
from edge.recognize.types import DESCRIPTOR_DIM, Descriptor

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of one search.

    ``person_id`` is the nearest person (``None`` for an empty gallery);
    ``margin`` is the second-best person's distance minus the best one's
    (``inf`` when only one person is enrolled).
    """

    person_id: str | None
    distance: float
    runner_up_id: str | None
    runner_up_distance: float

    @property
    def margin(self) -> float:
        return self.runner_up_distance - self.distance

    def accepted(self, rules: MatchingConfig) -> bool:
        """Under the threshold and clearly ahead of the next person."""
        return (
            self.person_id is not None
            and self.distance < rules.threshold
            and self.margin >= rules.min_margin
        )


class Gallery:
    """An immutable set of templates with their owners, ready to search."""

    __slots__ = ("_norms2", "_owners", "_person_ids", "_starts", "_templates")

    def __init__(
        self, person_ids: Sequence[str], rows: Sequence[int] | None, templates: FloatArray
    ) -> None:
        # Private: use from_rows / from_mapping / empty.
        self._person_ids = tuple(person_ids)
        self._templates = templates
        owners = np.empty(0, dtype=np.int32) if rows is None else np.asarray(rows, dtype=np.int32)
        self._owners = owners
        with np.errstate(over="ignore"):
            norms2 = np.einsum("ij,ij->i", templates, templates).astype(np.float32)
        huge = ~np.isfinite(norms2)
        if huge.any():
            # A crafted row near float32's limit (decode_template refuses them; an old mirror
            # may hold one) would make |t|^2 - 2 t.q = inf - inf = NaN. Zeroed with an
            # infinite norm it lies at distance inf from every query: it matches nobody and
            # hides nobody, and no query overflows.
            templates = templates.copy()
            templates[huge] = 0.0
            self._templates = templates
        self._norms2 = norms2
        counts = np.bincount(owners, minlength=len(self._person_ids)) if owners.size else None
        starts = np.zeros(len(self._person_ids) + 1, dtype=np.int64)
        if counts is not None:
            np.cumsum(counts, out=starts[1:])
        self._starts = starts
        for array in (self._templates, self._owners, self._norms2, self._starts):
            array.setflags(write=False)

    @classmethod
    def empty(cls) -> Gallery:
        return cls((), None, np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32))

    @classmethod
    def from_rows(cls, owners: Sequence[str], templates: npt.ArrayLike) -> Gallery:
        """Build from one owner id per template row (rows may come in any order)."""
        matrix = _validated(templates, len(owners))
        if matrix.shape[0] == 0:
            return cls.empty()
        ids, inverse = np.unique(np.asarray(owners, dtype=object).astype(str), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        sorted_rows = inverse[order].astype(np.int32)
        matrix = np.ascontiguousarray(matrix[order])
        return cls([str(i) for i in ids], sorted_rows.tolist(), matrix)

    @classmethod
    def from_mapping(cls, templates: Mapping[str, npt.ArrayLike]) -> Gallery:
        """Build from ``{person_id: (k, 128) templates}``."""
        owners: list[str] = []
        blocks: list[FloatArray] = []
        for person_id, block in templates.items():
            arr = np.asarray(block, dtype=np.float32).reshape(-1, DESCRIPTOR_DIM)
            owners.extend([person_id] * arr.shape[0])
            blocks.append(arr)
        if not blocks:
            return cls.empty()
        return cls.from_rows(owners, np.concatenate(blocks))

    @property
    def person_ids(self) -> tuple[str, ...]:
        return self._person_ids

    @property
    def templates(self) -> FloatArray:
        return self._templates

    def __len__(self) -> int:
        """Number of templates."""
        return int(self._templates.shape[0])

    def templates_of(self, person_id: str) -> FloatArray:
        index = self._person_ids.index(person_id)
        return self._templates[self._starts[index] : self._starts[index + 1]]

    def squared_distances(self, query: Descriptor) -> FloatArray:
        """Squared distance from ``query`` to every template row; ``inf``, never NaN."""
        q = np.asarray(query, dtype=np.float32).reshape(DESCRIPTOR_DIM)
        d2 = self._templates @ (q * np.float32(-2.0))
        d2 += self._norms2
        d2 += np.float32(q @ q)
        np.maximum(d2, 0.0, out=d2)  # keeps NaN
        # Never NaN, whatever its source: NaN would win argmin and spread through reduceat.
        np.copyto(d2, np.float32(np.inf), where=np.isnan(d2))
        return d2

    def person_distances(self, query: Descriptor) -> FloatArray:
        """Every person's best distance to ``query``, aligned with :attr:`person_ids`."""
        if not self._person_ids:
            return np.zeros(0, dtype=np.float32)
        d2 = self.squared_distances(query)
        best = np.minimum.reduceat(d2, self._starts[:-1])
        return np.sqrt(best)

    def match(self, query: Descriptor) -> Match:
        """Best and second-best person for one descriptor."""
        if not self._person_ids:
            return Match(None, float("inf"), None, float("inf"))
        d2 = self.squared_distances(query)
        best_row = int(np.argmin(d2))
        best_person = int(self._owners[best_row])
        best = float(np.sqrt(d2[best_row]))
        if len(self._person_ids) == 1:
            return Match(self._person_ids[best_person], best, None, float("inf"))
        # The runner-up must be another person: hide the best person's rows.
        d2[self._starts[best_person] : self._starts[best_person + 1]] = np.inf
        second_row = int(np.argmin(d2))
        return Match(
            self._person_ids[best_person],
            best,
            self._person_ids[int(self._owners[second_row])],
            float(np.sqrt(d2[second_row])),
        )

    def __repr__(self) -> str:
        return f"<Gallery people={len(self._person_ids)} templates={len(self)}>"


def _validated(templates: npt.ArrayLike, expected_rows: int) -> FloatArray:
    try:
        matrix = np.asarray(templates, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GalleryError(f"templates are not numeric: {exc}") from exc
    if matrix.size == 0 and expected_rows == 0:
        return np.zeros((0, DESCRIPTOR_DIM), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != DESCRIPTOR_DIM:
        raise GalleryError(
            f"templates must be (N, {DESCRIPTOR_DIM}) float32, got shape {matrix.shape}"
        )
    if matrix.shape[0] != expected_rows:
        raise GalleryError(f"{matrix.shape[0]} template rows but {expected_rows} owners")
    if not np.isfinite(matrix).all():
        raise GalleryError("templates contain NaN or infinite values")
    return matrix


class Matcher:
    """Thread-safe holder of the current :class:`Gallery`."""

    def __init__(self, gallery: Gallery | None = None) -> None:
        self._gallery = gallery or Gallery.empty()
        self._swap_lock = threading.Lock()
        self._generation = 0

    @property
    def gallery(self) -> Gallery:
        return self._gallery

    @property
    def generation(self) -> int:
        """Increases on every swap (lets a caller notice the gallery changed)."""
        return self._generation

    def swap(self, gallery: Gallery) -> Gallery:
        """Install a fully built gallery; returns the previous one."""
        with self._swap_lock:
            previous, self._gallery = self._gallery, gallery
            self._generation += 1
        return previous

    def match(self, query: Descriptor) -> Match:
        # One read of the reference: the whole search sees one gallery.
        return self._gallery.match(query)

    def match_many(self, queries: Iterable[Descriptor]) -> list[Match]:
        gallery = self._gallery
        return [gallery.match(q) for q in queries]

    def __repr__(self) -> str:
        return f"<Matcher {self._gallery!r} generation={self._generation}>"
