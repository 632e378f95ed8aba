"""The enrolment mirror: pages applied atomically, the matcher loaded from it."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.protocol import EnrolmentPage, PersonDelete, PersonUpsert, encode_template
from edge.recognize.matcher import Gallery
from edge.store import EdgeStore, EnrolmentPageError
from tests.store.conftest import OpenStore, delete, page, template, upsert
from tests.support.clock import FakeClock


def _state(store: EdgeStore) -> tuple[int, dict[str, str], dict[str, list[bytes]]]:
    gallery = store.load_gallery()
    matrices = {p: [row.tobytes() for row in gallery.templates_of(p)] for p in gallery.person_ids}
    return store.enrolment_version(), store.people(), matrices


def test_empty_mirror(store: EdgeStore) -> None:
    assert store.enrolment_version() == 0
    assert store.people() == {}
    gallery = store.load_gallery()
    assert isinstance(gallery, Gallery)
    assert len(gallery) == 0


def test_apply_pages_and_load_the_matcher(store: EdgeStore) -> None:
    applied = store.apply_enrolment(
        page(0, upsert(1, "alice", 1, 2), upsert(2, "bob", 3), version=3)
    )
    assert (applied.since, applied.version, applied.upserted, applied.deleted) == (0, 3, 2, 0)
    assert applied.changed
    assert store.enrolment_version() == 3
    assert store.people() == {"alice": "Alice", "bob": "Bob"}

    gallery = store.load_gallery()
    assert gallery.person_ids == ("alice", "bob")
    np.testing.assert_array_equal(gallery.templates_of("alice"), [template(1), template(2)])
    np.testing.assert_array_equal(gallery.templates_of("bob"), [template(3)])
    assert gallery.match(template(3)).person_id == "bob"

    store.apply_enrolment(page(3, upsert(4, "alice", 9, name="Alice B."), delete(5, "bob")))
    assert store.enrolment_version() == 5
    assert store.people() == {"alice": "Alice B."}
    gallery = store.load_gallery()
    assert gallery.person_ids == ("alice",)
    np.testing.assert_array_equal(gallery.templates_of("alice"), [template(9)])


def test_deleting_an_unknown_person_is_fine(store: EdgeStore) -> None:
    store.apply_enrolment(page(0, delete(1, "ghost")))
    assert store.enrolment_version() == 1


def test_the_same_person_twice_in_a_page_ends_in_the_last_state(store: EdgeStore) -> None:
    store.apply_enrolment(page(0, upsert(1, "alice", 1), delete(2, "alice"), upsert(3, "alice", 5)))
    np.testing.assert_array_equal(store.load_gallery().templates_of("alice"), [template(5)])


def test_empty_page_moves_the_version(store: EdgeStore) -> None:
    assert not store.apply_enrolment(page(0)).changed
    store.apply_enrolment(page(0, version=7))  # the server compacted changes away
    assert store.enrolment_version() == 7


def test_a_page_with_nothing_new_writes_nothing(file_store: EdgeStore, clock: FakeClock) -> None:
    """A pull every 30 s mostly brings nothing: that must not be a commit (and an fsync)."""
    file_store.apply_enrolment(page(0, upsert(1, "alice")))
    file_store.checkpoint("truncate")
    assert file_store.path is not None
    wal = Path(f"{file_store.path}-wal")
    # data_version changes for this connection whenever another connection commits.
    watcher = sqlite3.connect(file_store.path)
    try:
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        wal_before = wal.stat().st_size
        for _ in range(100):
            clock.advance(30)  # pull_interval_s
            applied = file_store.apply_enrolment(page(1))
            assert (applied.since, applied.version, applied.changed) == (1, 1, False)
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
        assert wal.stat().st_size == wal_before == 0
        # A page that does change something still commits.
        file_store.apply_enrolment(page(1, version=2))
        assert watcher.execute("PRAGMA data_version").fetchone()[0] != before
        assert file_store.enrolment_version() == 2
    finally:
        watcher.close()
    # An empty page from the wrong version is still refused, not ignored.
    with pytest.raises(EnrolmentPageError, match="mirror is at 2"):
        file_store.apply_enrolment(page(1))


def test_reset_page_replaces_the_whole_mirror(store: EdgeStore) -> None:
    store.apply_enrolment(page(0, upsert(1, "alice"), upsert(2, "bob"), version=40))
    # Moved to another group: its versions restart lower, the page starts anywhere.
    applied = store.apply_enrolment(page(0, upsert(3, "carol"), reset=True))
    assert applied.reset
    assert store.people() == {"carol": "Carol"}
    assert store.enrolment_version() == 3


def test_a_page_given_as_json_data(store: EdgeStore) -> None:
    data = page(0, upsert(1, "alice")).model_dump(mode="json")
    store.apply_enrolment(data)
    assert store.people() == {"alice": "Alice"}


def _bad_template(kind: str) -> str:
    if kind == "nan":
        vector = template(1)
        vector[5] = np.nan
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    if kind == "inf":
        vector = template(1)
        vector[0] = np.inf
        return base64.b64encode(vector.astype("<f4").tobytes()).decode()
    if kind == "dim":
        return base64.b64encode(np.zeros(127, dtype="<f4").tobytes()).decode()
    return "@@not base64@@"


def _good_then(bad: Any, since: int = 2, version: int | None = None) -> EnrolmentPage:
    """A page whose first change is fine and second is not, bypassing pydantic."""
    good = upsert(since + 1, "carol")
    return EnrolmentPage.model_construct(
        since=since,
        version=version if version is not None else since + 2,
        more=False,
        changes=[good, bad],
        reset=False,
    )


MALFORMED: dict[str, Any] = {
    "nan template": PersonUpsert.model_construct(
        op="upsert", version=4, person_id="dave", name="Dave", templates=[_bad_template("nan")]
    ),
    "inf template": PersonUpsert.model_construct(
        op="upsert", version=4, person_id="dave", name="Dave", templates=[_bad_template("inf")]
    ),
    "wrong dimension": PersonUpsert.model_construct(
        op="upsert", version=4, person_id="dave", name="Dave", templates=[_bad_template("dim")]
    ),
    "not base64": PersonUpsert.model_construct(
        op="upsert", version=4, person_id="dave", name="Dave", templates=[_bad_template("b64")]
    ),
    "no templates": PersonUpsert.model_construct(
        op="upsert", version=4, person_id="dave", name="Dave", templates=[]
    ),
    "bad person id": PersonDelete.model_construct(op="delete", version=4, person_id="no spaces"),
    "unknown op object": PersonDelete.model_construct(
        op="rename",  # type: ignore[arg-type]
        version=4,
        person_id="dave",
    ),
    "unknown op dict": {"op": "rename", "version": 4, "person_id": "dave"},
    "version not increasing": PersonDelete.model_construct(op="delete", version=3, person_id="x"),
    "version beyond the page": PersonDelete.model_construct(op="delete", version=9, person_id="x"),
    "not a change": "delete everyone",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_page_is_rejected_whole(open_store: OpenStore, tmp_path: Path, name: str) -> None:
    store = open_store(tmp_path / "edge.sqlite3")
    store.apply_enrolment(page(0, upsert(1, "alice", 1), upsert(2, "bob", 2)))
    before = _state(store)

    with pytest.raises(EnrolmentPageError) as info:
        store.apply_enrolment(_good_then(MALFORMED[name]))
    assert isinstance(info.value, ValueError)
    assert _state(store) == before


@pytest.mark.parametrize(
    "data",
    [
        {"since": 2, "version": 3, "more": False, "changes": [{"op": "rename", "version": 3}]},
        {"since": 2, "version": 3, "more": False},
        {"since": 2, "version": 3, "more": False, "changes": [], "extra": 1},
    ],
)
def test_malformed_json_page_is_rejected(store: EdgeStore, data: dict[str, Any]) -> None:
    store.apply_enrolment(page(0, upsert(1, "alice"), upsert(2, "bob")))
    with pytest.raises(EnrolmentPageError):
        store.apply_enrolment(data)
    assert store.enrolment_version() == 2


def test_page_version_going_backwards_is_rejected(store: EdgeStore) -> None:
    store.apply_enrolment(page(0, upsert(1, "alice"), upsert(2, "bob")))
    backwards = EnrolmentPage.model_construct(since=2, version=1, more=False, changes=[])
    with pytest.raises(EnrolmentPageError, match="backwards"):
        store.apply_enrolment(backwards)
    assert store.enrolment_version() == 2


@pytest.mark.parametrize("since", [0, 1, 3])
def test_page_not_starting_at_the_mirror_version_is_rejected(store: EdgeStore, since: int) -> None:
    store.apply_enrolment(page(0, upsert(1, "alice"), upsert(2, "bob")))
    with pytest.raises(EnrolmentPageError, match="mirror is at 2"):
        store.apply_enrolment(page(since, upsert(since + 1, "carol")))
    assert store.people() == {"alice": "Alice", "bob": "Bob"}


def test_same_page_twice_is_rejected_the_second_time(store: EdgeStore) -> None:
    first = page(0, upsert(1, "alice"))
    store.apply_enrolment(first)
    with pytest.raises(EnrolmentPageError):
        store.apply_enrolment(first)
    assert store.enrolment_version() == 1


def test_not_a_page(store: EdgeStore) -> None:
    with pytest.raises(EnrolmentPageError):
        store.apply_enrolment([1, 2, 3])  # type: ignore[arg-type]


def test_mirror_survives_reopening(open_store: OpenStore, tmp_path: Path) -> None:
    path = tmp_path / "edge.sqlite3"
    store = open_store(path)
    store.apply_enrolment(page(0, *(upsert(i + 1, f"p{i:03d}", i, i + 1000) for i in range(50))))
    expected = _state(store)
    store.close()
    assert _state(open_store(path)) == expected


def test_templates_are_float32_blobs(file_store: EdgeStore) -> None:
    import sqlite3

    file_store.apply_enrolment(page(0, upsert(1, "alice", 1)))
    assert file_store.path is not None
    conn = sqlite3.connect(file_store.path)
    (blob,) = conn.execute("SELECT vector FROM templates").fetchone()
    conn.close()
    assert len(blob) == 512
    np.testing.assert_array_equal(np.frombuffer(blob, dtype="<f4"), template(1))
    assert encode_template(np.frombuffer(blob, dtype="<f4")) == upsert(1, "alice", 1).templates[0]
