"""Matcher: vectorised search, per-person best distance, margins, atomic swaps."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import GalleryError
from edge.recognize.config import MatchingConfig
from edge.recognize.matcher import Gallery, Matcher


def _random(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def test_empty_gallery_matches_nobody() -> None:
    match = Gallery.empty().match(_random(1)[0])
    assert match.person_id is None
    assert not match.accepted(MatchingConfig())


def test_single_person_has_infinite_margin() -> None:
    templates = _random(3)
    gallery = Gallery.from_mapping({"ann": templates})
    match = gallery.match(templates[1])
    assert match.person_id == "ann"
    assert match.distance == pytest.approx(0.0, abs=1e-3)
    assert match.runner_up_id is None
    assert match.margin == float("inf")


@settings(max_examples=60, deadline=None)
@given(
    people=st.integers(min_value=2, max_value=12),
    per_person=st.integers(min_value=1, max_value=4),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_matches_brute_force(people: int, per_person: int, seed: int) -> None:
    templates = _random(people * per_person, seed)
    owners = [f"p{i % people}" for i in range(len(templates))]  # interleaved on purpose
    gallery = Gallery.from_rows(owners, templates)
    query = _random(1, seed + 1)[0]
    brute = {
        person: min(
            float(np.linalg.norm(t - query))
            for t, o in zip(templates, owners, strict=True)
            if o == person
        )
        for person in set(owners)
    }
    ranked = sorted(brute.items(), key=lambda kv: kv[1])
    match = gallery.match(query)
    assert match.person_id == ranked[0][0]
    assert match.distance == pytest.approx(ranked[0][1], abs=1e-4)
    assert match.runner_up_id == ranked[1][0]
    assert match.runner_up_distance == pytest.approx(ranked[1][1], abs=1e-4)
    by_person = dict(zip(gallery.person_ids, gallery.person_distances(query), strict=True))
    for person, distance in brute.items():
        assert by_person[person] == pytest.approx(distance, abs=1e-4)


def test_rules_need_threshold_and_margin() -> None:
    base = _random(2)
    gallery = Gallery.from_mapping({"a": base[0], "b": base[1]})
    rules = MatchingConfig(threshold=0.55, min_margin=0.08)
    assert gallery.match(base[0]).accepted(rules)
    halfway = (base[0] + base[1]) / 2
    assert not gallery.match(halfway).accepted(rules)  # equidistant: no margin


@pytest.mark.parametrize(
    ("templates", "owners", "message"),
    [
        (np.zeros((2, 64), np.float32), ["a", "b"], "shape"),
        (np.full((1, 128), np.nan, np.float32), ["a"], "NaN"),
        (np.full((1, 128), np.inf, np.float32), ["a"], "NaN or infinite"),
        (np.zeros((2, 128), np.float32), ["a"], "owners"),
    ],
)
def test_malformed_templates_rejected(
    templates: np.ndarray, owners: list[str], message: str
) -> None:
    with pytest.raises(GalleryError, match=message):
        Gallery.from_rows(owners, templates)


def test_gallery_is_read_only() -> None:
    gallery = Gallery.from_mapping({"a": _random(2)})
    with pytest.raises(ValueError, match="read-only"):
        gallery.templates[0, 0] = 1.0


def test_concurrent_readers_never_see_a_half_built_gallery() -> None:
    """Readers race a writer that swaps between galleries of different sizes.

    Each gallery's people all share one prefix; a reader that sees a mix of two
    galleries would get a best and runner-up from different generations.
    """
    galleries = [
        Gallery.from_mapping({f"g{g}-{i}": _random(1, g * 100 + i)[0] for i in range(2 + g * 50)})
        for g in range(4)
    ]
    matcher = Matcher(galleries[0])
    stop = threading.Event()
    problems: list[str] = []
    query = _random(1, 999)[0]

    def reader() -> None:
        while not stop.is_set():
            match = matcher.match(query)
            assert match.person_id is not None
            assert match.runner_up_id is not None
            if match.person_id.split("-")[0] != match.runner_up_id.split("-")[0]:
                problems.append(f"{match.person_id} vs {match.runner_up_id}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(400):
        matcher.swap(galleries[n % 4])
    stop.set()
    for t in threads:
        t.join()
    assert problems == []
    assert matcher.generation == 400


def _poisoned_like(query: np.ndarray) -> np.ndarray:
    """A crafted template: float32's extremes with the query's signs, so ``t.q`` overflows and
    ``|t|^2 - 2 t.q`` is ``inf - inf``: the vector that once hid everyone on a terminal."""
    poisoned: np.ndarray = np.where(query < 0, np.float32(-3e38), np.float32(3e38))
    return poisoned.astype(np.float32)


def test_poisoned_template_neither_matches_nor_hides_others() -> None:
    ann, bob, query_noise = _random(3, 7)
    query = ann + 0.05 * query_noise
    # Built straight from rows, as a terminal's gallery is built from its SQLite mirror:
    # decode_template (which refuses such vectors) is bypassed.
    gallery = Gallery.from_rows(["ann", "bob", "mallory"], [ann, bob, _poisoned_like(query)])
    rules = MatchingConfig()

    match = gallery.match(query)
    assert match.person_id == "ann"
    assert match.distance == pytest.approx(float(np.linalg.norm(query - ann)), abs=1e-4)
    assert match.runner_up_id == "bob"
    assert match.accepted(rules)

    distances = dict(zip(gallery.person_ids, gallery.person_distances(query), strict=True))
    assert distances["mallory"] == np.inf
    assert not np.isnan(list(distances.values())).any()
    assert distances["ann"] == pytest.approx(match.distance, abs=1e-4)


def test_poisoned_row_among_a_persons_own_templates() -> None:
    ann, bob = _random(2, 8)
    gallery = Gallery.from_mapping({"ann": [_poisoned_like(ann), ann], "bob": bob})
    match = gallery.match(ann)
    assert match.person_id == "ann"
    assert match.distance == pytest.approx(0.0, abs=1e-3)
    assert match.accepted(MatchingConfig())


def test_gallery_of_only_poisoned_templates_matches_nobody() -> None:
    query = _random(1, 9)[0]
    poisoned = _poisoned_like(query)
    gallery = Gallery.from_mapping({"mallory": poisoned, "eve": -poisoned})
    match = gallery.match(query)
    assert match.distance == np.inf
    assert not match.accepted(MatchingConfig())
