"""Fixtures for running the terminal daemon on real video with mock pins."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.protocol import EnrolmentPage, PersonUpsert, encode_template
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.image import read_image
from edge.store import EdgeStore


def enrol(
    store: EdgeStore, analyzer: FaceAnalyzer, people: Sequence[tuple[str, Sequence[Path]]]
) -> None:
    """Put people into the store's enrolment mirror as one page, as a pull from the server would."""
    changes = []
    for version, (person, photos) in enumerate(people, start=store.enrolment_version() + 1):
        templates = [
            encode_template(analyzer.enrolment_descriptor(read_image(p), name=str(p)))
            for p in photos
        ]
        changes.append(
            PersonUpsert(version=version, person_id=person, name=person, templates=templates)
        )
    since = store.enrolment_version()
    store.apply_enrolment(
        EnrolmentPage(since=since, version=since + len(changes), more=False, changes=changes)
    )
    assert len(store.load_gallery().person_ids) >= len(people)
    assert np.isfinite(store.load_gallery().templates).all()
