"""Templates on the wire: real dlib descriptors pass, crafted vectors are refused everywhere."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from edge.protocol import (
    TEMPLATE_MAX_NORM,
    TEMPLATE_MAX_VALUE,
    TEMPLATE_MIN_NORM,
    EnrolmentPage,
    decode_template,
    encode_template,
)
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.embedder import ENROLMENT_JITTERS
from edge.recognize.image import read_image
from edge.recognize.types import Descriptor
from edge.sync import ProtocolError, SyncClient

from .conftest import PeopleSet


def _raw(vector: np.ndarray) -> str:
    """Base64 of the float32 bytes, without encode_template (which a crafter needn't use)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def _real(people: PeopleSet, impostors: list[tuple[str, Descriptor]]) -> np.ndarray:
    rows = [d for found in people.by_person.values() for _, d in found]
    rows += [d for _, d in impostors]
    return np.stack(rows).astype(np.float32)


@pytest.mark.faces
def test_every_real_descriptor_passes_with_a_wide_margin(
    people: PeopleSet, impostor_descriptors: list[tuple[str, Descriptor]]
) -> None:
    real = _real(people, impostor_descriptors)
    for row in real:
        np.testing.assert_array_equal(decode_template(encode_template(row)), row)
    norms = np.linalg.norm(real, axis=1)
    largest = float(np.abs(real).max())
    print(
        f"\n{len(real)} real descriptors: L2 norm {norms.min():.3f}-{norms.max():.3f} "
        f"(bounds {TEMPLATE_MIN_NORM}-{TEMPLATE_MAX_NORM}), largest |value| {largest:.3f} "
        f"(bound {TEMPLATE_MAX_VALUE})"
    )
    # The bounds are documented as leaving at least 1.8x either way.
    assert norms.min() >= TEMPLATE_MIN_NORM * 1.8
    assert norms.max() * 1.8 <= TEMPLATE_MAX_NORM
    assert largest * 1.8 <= TEMPLATE_MAX_VALUE


@pytest.mark.faces
def test_jittered_templates_pass_with_the_same_margin(
    analyzer: FaceAnalyzer, people: PeopleSet
) -> None:
    """Templates made from photos average jittered copies (the server's default): an average
    of descriptors is no longer than they are, and must keep the same room to the bounds."""
    rows = []
    for found in people.by_person.values():
        path = found[0][0]
        image = read_image(path)
        rows.append(analyzer.enrolment_descriptor(image, name=str(path), jitters=ENROLMENT_JITTERS))
    real = np.stack(rows).astype(np.float32)
    for row in real:
        np.testing.assert_array_equal(decode_template(encode_template(row)), row)
    norms = np.linalg.norm(real, axis=1)
    largest = float(np.abs(real).max())
    print(
        f"\n{len(real)} templates of {ENROLMENT_JITTERS} jitters: L2 norm "
        f"{norms.min():.3f}-{norms.max():.3f}, largest |value| {largest:.3f}"
    )
    assert norms.min() >= TEMPLATE_MIN_NORM * 1.8
    assert norms.max() * 1.8 <= TEMPLATE_MAX_NORM
    assert largest * 1.8 <= TEMPLATE_MAX_VALUE


def _crafted() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    like_dlib = (rng.normal(size=128) * 0.125).astype(np.float32)  # norm ~1.4, like dlib's
    signs = np.where(np.arange(128) % 2, 1, -1).astype(np.float32)
    one_spike = like_dlib.copy()
    one_spike[5] = 1.5
    return {
        "float32-extremes": signs * np.float32(3e38),
        "spread-out": signs * np.float32(0.3),  # every value plausible, the norm is not
        "one-spike": one_spike,
        "zeros": np.zeros(128, np.float32),
        "scaled-down": like_dlib / 10,
    }


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("float32-extremes", "magnitude 3e\\+38"),
        ("spread-out", "L2 norm 3.39"),
        ("one-spike", "magnitude 1.5"),
        ("zeros", "L2 norm 0,"),
        ("scaled-down", "L2 norm 0.1"),
    ],
)
def test_crafted_templates_are_refused(name: str, message: str) -> None:
    vector = _crafted()[name]
    with pytest.raises(ValueError, match=message) as info:
        decode_template(_raw(vector))
    assert "not a face descriptor" in str(info.value)


def test_terminal_refuses_a_page_with_a_crafted_template() -> None:
    """The enrolment page is parsed whole before anything is applied: nothing reaches the
    terminal's mirror or matcher."""
    good = (np.random.default_rng(4).normal(size=128) * 0.125).astype(np.float32)
    page = {
        "since": 0,
        "version": 2,
        "more": False,
        "changes": [
            {"op": "upsert", "version": 1, "person_id": "ok", "name": "Ok",
             "templates": [encode_template(good)]},
            {"op": "upsert", "version": 2, "person_id": "mallory", "name": "Mallory",
             "templates": [_raw(_crafted()["float32-extremes"])]},
        ],
    }  # fmt: skip
    with pytest.raises(ValidationError, match="not a face descriptor"):
        EnrolmentPage.model_validate(page)

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page)

    client = SyncClient("http://server.test/", "tok-1", transport=httpx.MockTransport(handler))
    with client, pytest.raises(ProtocolError, match=r"changes\.1\.upsert\.templates"):
        client.changes(0)
