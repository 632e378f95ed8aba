"""Enrolment photos with real faces: templates computed by edge.recognize, bad photos refused."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from edge.protocol import decode_template
from edge.recognize.analyzer import FaceAnalyzer
from edge.recognize.config import HogDetectorConfig, RecognitionConfig
from edge.recognize.image import read_image
from tests.server.helpers import Api, Mirror

pytestmark = pytest.mark.faces


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def _upload_multipart(api: Api, person_id: str, path: Path) -> dict[str, object]:
    response = api.admin(
        "POST",
        f"/admin/people/{person_id}/photos",
        files={"photo": (path.name, path.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_photo_becomes_the_same_template_the_edge_computes(api: Api, faces_dir: Path) -> None:
    token = api.create_terminal("t1")
    api.create_person("obama")
    photo = faces_dir / "people/barack_obama/obama.jpg"
    body = _upload_multipart(api, "obama", photo)
    assert body["created"] is True
    assert body["templates"] == 1
    assert body["warnings"] == []

    (change,) = Mirror().pull(api, token).people["obama"]
    served = decode_template(change)
    expected = FaceAnalyzer(RecognitionConfig()).enrolment_descriptor(read_image(photo))
    np.testing.assert_allclose(served, expected, atol=1e-6)


def test_raw_body_upload_and_same_photo_twice(api: Api, faces_dir: Path) -> None:
    api.create_person("lmm")
    data = (faces_dir / "people/lin_manuel_miranda/lmm1.png").read_bytes()
    first = api.admin(
        "POST",
        "/admin/people/lmm/photos",
        content=data,
        params={"filename": "lmm1.png"},
        headers={"Content-Type": "image/png"},
    )
    assert first.status_code == 201, first.text
    again = api.admin(
        "POST", "/admin/people/lmm/photos", content=data, headers={"Content-Type": "image/png"}
    )
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["template_id"] == first.json()["template_id"]
    person = api.admin("GET", "/admin/people/lmm").json()
    assert [t["source"] for t in person["templates"]] == ["lmm1.png"]


def test_second_photo_of_an_enrolled_face_warns(api: Api, faces_dir: Path) -> None:
    people = faces_dir / "people"
    api.create_person("obama")
    api.create_person("not-obama")
    api.create_person("salley")
    _upload_multipart(api, "obama", people / "barack_obama/obama.jpg")
    _upload_multipart(api, "salley", sorted((people / "john_salley").iterdir())[0])

    # The same man enrolled as someone else: stored, with a warning naming the other entry.
    second = sorted((people / "barack_obama").iterdir())[1]
    body = _upload_multipart(api, "not-obama", second)
    warnings = body["warnings"]
    assert isinstance(warnings, list)
    assert [w["person_id"] for w in warnings] == ["obama"]
    assert 0 < warnings[0]["distance"] < api.config.recognition.matching.threshold
    assert warnings[0]["code"] == "possible_duplicate"

    # Another photo of the same person under their own id: no warning about themselves.
    own = _upload_multipart(api, "salley", sorted((people / "john_salley").iterdir())[1])
    assert own["warnings"] == []


@pytest.mark.parametrize(
    ("make_photo", "reason"),
    [
        pytest.param(lambda d: (d / "scenes/dogs.jpg").read_bytes(), "no_face", id="no-face"),
        pytest.param(
            lambda d: (d / "scenes/two_people.jpg").read_bytes(), "several_faces", id="two-faces"
        ),
        pytest.param(
            lambda d: _jpeg(
                Image.open(d / "people/barack_obama/obama.jpg").filter(ImageFilter.GaussianBlur(8))
            ),
            "blurred",
            id="blurred",
        ),
        pytest.param(lambda d: b"GIF89a not really", "unreadable", id="unreadable"),
        pytest.param(
            lambda d: (d / "people/barack_obama/obama.jpg").read_bytes()[:5000],
            "unreadable",
            id="truncated",
        ),
        pytest.param(
            lambda d: _jpeg(Image.new("RGB", (20, 20), "grey")), "too_small", id="tiny-image"
        ),
    ],
)
def test_unusable_photo_is_refused_with_reason(
    api: Api, faces_dir: Path, make_photo: Callable[[Path], bytes], reason: str
) -> None:
    api.create_person("p1")
    before = api.counts()
    response = api.admin(
        "POST",
        "/admin/people/p1/photos",
        files={"photo": ("photo.jpg", make_photo(faces_dir), "image/jpeg")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == reason
    assert response.json()["detail"]
    assert api.counts() == before


def test_face_too_small_in_the_photo(make_api: Callable[..., Api], faces_dir: Path) -> None:
    # Upsampling finds the small face; the quality gate then refuses it as too small.
    config = RecognitionConfig(detector=HogDetectorConfig(upsample=1))
    api = make_api(recognition=config)
    api.create_person("p1")
    photo = Image.open(faces_dir / "people/barack_obama/obama.jpg")
    small = photo.resize((photo.width // 6, photo.height // 6))
    response = api.admin(
        "POST",
        "/admin/people/p1/photos",
        files={"photo": ("small.jpg", _jpeg(small), "image/jpeg")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "too_small"
    assert "face unusable" in response.json()["detail"]
    assert api.counts()["templates"] == 0


def test_image_with_too_many_pixels(make_api: Callable[..., Api], faces_dir: Path) -> None:
    api = make_api(recognition=RecognitionConfig(max_image_pixels=100_000))
    api.create_person("p1")
    response = api.admin(
        "POST",
        "/admin/people/p1/photos",
        files={"photo": ("big.jpg", (faces_dir / "people/barack_obama/obama.jpg").read_bytes())},
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "too_large"


def test_photo_for_unknown_person_and_bad_requests(api: Api, faces_dir: Path) -> None:
    data = (faces_dir / "people/barack_obama/obama.jpg").read_bytes()
    response = api.admin(
        "POST", "/admin/people/nobody/photos", files={"photo": ("a.jpg", data, "image/jpeg")}
    )
    assert response.status_code == 404
    api.create_person("p1")
    wrong_field = api.admin(
        "POST", "/admin/people/p1/photos", files={"picture": ("a.jpg", data, "image/jpeg")}
    )
    assert wrong_field.status_code == 422
    assert wrong_field.json()["reason"] == "missing_photo"
    text = api.admin(
        "POST", "/admin/people/p1/photos", content=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    assert api.counts()["templates"] == 0
