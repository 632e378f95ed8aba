"""The admin web's enrol form: one upload's photos must show one person (issue 10, item 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.conftest import Web

pytestmark = pytest.mark.faces

SALLEY = "people/john_salley"
SIMM = "people/john_simm"


def _photos(faces_dir: Path, folder: str, count: int) -> list[str]:
    return [str(p.relative_to(faces_dir)) for p in sorted((faces_dir / folder).iterdir())[:count]]


def _files(faces_dir: Path, names: list[str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photos", (Path(n).name, (faces_dir / n).read_bytes(), "image/jpeg")) for n in names]


def _results(html: str) -> dict[str, str]:
    """File name -> reason ('' for accepted) from the photo results list."""
    return dict(re.findall(r'data-file="([^"]*)" data-reason="([^"]*)"', html))


def _enrol(web: Web, faces_dir: Path, names: list[str], **extra: str) -> str:
    response = web.post(
        "/admin/people",
        {"id": "salley", "name": "John Salley", "group": "default", "consent": "yes", **extra},
        files=_files(faces_dir, names),
    )
    assert response.status_code == 200, response.text
    return response.text


@pytest.mark.parametrize("wrong_at", [0, 1, 3], ids=["first", "second", "last"])
def test_the_outlier_of_an_upload_is_refused_wherever_it_is(
    web: Web, faces_dir: Path, wrong_at: int
) -> None:
    names = _photos(faces_dir, SALLEY, 3)
    wrong = _photos(faces_dir, SIMM, 1)[0]
    names.insert(wrong_at, wrong)
    html = _enrol(web, faces_dir, names)
    results = _results(html)
    assert results.pop(Path(wrong).name) == "not_same_person"
    assert set(results.values()) == {""}, results
    assert 'id="template-count">3<' in html
    # The distance and the photo it was measured against are named.
    assert re.search(r"the face is 0\.\d{3} from the one in 0001\d\d_\d+\.jpg", html)


def test_three_people_in_one_upload_become_at_most_one(web: Web, faces_dir: Path) -> None:
    names = [
        "people/barack_obama/obama.jpg",
        "people/joe_biden/biden.jpg",
        "people/lin_manuel_miranda/lmm1.png",
    ]
    results = _results(_enrol(web, faces_dir, names))
    assert sorted(results.values()) == ["", "not_same_person", "not_same_person"]


def test_several_photos_of_one_person_are_accepted(web: Web, faces_dir: Path) -> None:
    html = _enrol(web, faces_dir, _photos(faces_dir, SALLEY, 6))
    assert set(_results(html).values()) == {""}
    assert 'id="template-count">6<' in html


def test_enrol_anyway_box_keeps_every_photo(web: Web, faces_dir: Path) -> None:
    names = [*_photos(faces_dir, SALLEY, 2), *_photos(faces_dir, SIMM, 1)]
    html = _enrol(web, faces_dir, names, force_photo="yes")
    assert set(_results(html).values()) == {""}
    assert 'id="template-count">3<' in html


def test_added_photos_are_checked_against_the_persons_templates(web: Web, faces_dir: Path) -> None:
    _enrol(web, faces_dir, _photos(faces_dir, SALLEY, 1))
    more = [*_photos(faces_dir, SIMM, 1), _photos(faces_dir, SALLEY, 2)[1]]
    response = web.post("/admin/people/salley/photos", files=_files(faces_dir, more))
    assert response.status_code == 200, response.text
    results = _results(response.text)
    assert results == {Path(more[0]).name: "not_same_person", Path(more[1]).name: ""}
    assert "from the nearest of salley&#39;s 1 template" in response.text
    assert "Enrol anyway" in response.text
