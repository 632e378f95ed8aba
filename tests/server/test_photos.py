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


def test_photo_becomes_the_same_template_the_edge_computes(
    make_api: Callable[..., Api], faces_dir: Path
) -> None:
    # Unjittered, the template is bit for bit the edge's descriptor (jittered copies are
    # random draws; tests/recognize/test_jitter.py covers the default count).
    api = make_api(enrolment_jitters=0)
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


def _describe(path: Path) -> np.ndarray:
    # The server's own default recognition settings, as the API test app uses.
    return np.asarray(FaceAnalyzer(RecognitionConfig()).enrolment_descriptor(read_image(path)))


def test_photo_of_someone_else_is_refused_with_the_distance(
    make_api: Callable[..., Api], faces_dir: Path
) -> None:
    api = make_api(enrolment_jitters=0)  # the distance is checked against _describe's
    obama = faces_dir / "people/barack_obama/obama.jpg"
    biden = faces_dir / "people/joe_biden/biden.jpg"
    api.create_person("obama")
    _upload_multipart(api, "obama", obama)
    before = api.counts()

    response = api.admin(
        "POST",
        "/admin/people/obama/photos",
        files={"photo": (biden.name, biden.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "not_same_person"
    distance = float(np.linalg.norm(_describe(biden) - _describe(obama)))
    threshold = api.config.recognition.matching.threshold
    assert distance > threshold
    detail = response.json()["detail"]
    assert f"the face is {distance:.3f} from the nearest of obama's 1 template" in detail
    assert f"over the matching threshold {threshold}" in detail
    assert api.counts() == before

    # The admin's explicit override stores it all the same.
    forced = api.admin(
        "POST",
        "/admin/people/obama/photos",
        params={"force": "true"},
        files={"photo": (biden.name, biden.read_bytes(), "image/jpeg")},
    )
    assert forced.status_code == 201, forced.text
    assert forced.json()["templates"] == 2


def test_all_photos_of_one_person_accepted_and_others_refused(
    api: Api, faces_dir: Path
) -> None:
    """john_shimkus has the widest spread of the shared faces (0.55 between two of his
    photos): every one of his photos still joins his record; one photo of each other john is
    refused."""
    people = faces_dir / "people"
    api.create_person("shimkus")
    for photo in sorted((people / "john_shimkus").iterdir()):
        response = api.admin(
            "POST",
            "/admin/people/shimkus/photos",
            files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        # 200: two of his files are the same bytes (already enrolled); never a refusal.
        assert response.status_code in (200, 201), response.text
    assert response.json()["templates"] == 10
    before = api.counts()
    refused = {}
    for other in ("john_salley", "john_savage", "john_schneider", "john_simm"):
        photo = sorted((people / other).iterdir())[0]
        response = api.admin(
            "POST",
            "/admin/people/shimkus/photos",
            files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        refused[other] = (response.status_code, response.json()["reason"])
    assert set(refused.values()) == {(422, "not_same_person")}
    assert api.counts() == before
