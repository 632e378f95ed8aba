"""The charts (issue 15, docs/charts.md): their numbers agree with the month summary and the
day view, on the generated site of tests/hr/test_month_reference.py (SQLite and PostgreSQL);
the SVG is well-formed, escaped, in the reader's language; the endpoints need a login and
refuse bad input; the pages embed them."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from sync_server import reports
from sync_server.db import Database, epoch_us, events, migrate, people, terminals
from sync_server.reports import daily
from sync_server.reports.daily import DayMark
from sync_server.reports.day import PRESENT
from sync_server.web import charts, i18n
from tests.hr.test_month_reference import FIRST, LAST, NOWS, TZ, Site, generate, store
from tests.server.helpers import batch, event
from tests.web.conftest import Web

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \"Bobby\" \x01"


@pytest.fixture
def site(db_url: str) -> Iterator[tuple[Site, Database]]:
    generated = generate(seed=15)
    store(db_url, generated)
    db = Database.from_url(db_url, pool_size=1)
    try:
        with db.write() as conn:
            conn.execute(
                sa.insert(terminals).values(
                    id="gate",
                    group_name="default",
                    description="front gate",
                    token_hash="0" * 64,
                    created_at=datetime(2025, 1, 1, tzinfo=UTC),
                    reset_below=0,
                )
            )
        yield generated, db
    finally:
        db.dispose()


def _day_mark(row: reports.DayRow | None) -> DayMark:
    """The day view's row as the heatmap marks it."""
    if row is None:
        return DayMark.UNLISTED
    if row.status in PRESENT:
        return DayMark.LATE if row.late else DayMark.PRESENT
    return DayMark(row.status.value)


@pytest.mark.parametrize("now", NOWS, ids=["mid-month", "after"])
def test_person_months_agree_with_the_summary_and_the_day_view(
    site: tuple[Site, Database], now: datetime
) -> None:
    generated, db = site
    with db.read() as conn:
        summary = {
            r.person_id: r for r in reports.range_summary(conn, FIRST, LAST, tz=TZ, now=now).rows
        }
        views = {}
        day = FIRST
        while day <= LAST:
            views[day] = {r.person_id: r for r in reports.day_view(conn, day, tz=TZ, now=now).rows}
            day += timedelta(days=1)
        months = {
            p.id: daily.person_month(conn, p.id, FIRST, LAST, tz=TZ, now=now)
            for p in generated.people
        }
    marks_seen: set[DayMark] = set()
    for person in generated.people:
        month, row = months[person.id], summary[person.id]
        counts = month.counts()
        assert len(month.days) == 30
        assert counts["present_any"] == row.days_present, person.id
        assert counts[DayMark.LATE] == (row.days_late or 0), person.id
        assert counts[DayMark.ABSENT] == row.days_absent, person.id
        assert month.leave_days() == row.days_on_leave, person.id
        assert any(d.corrected for d in month.days) == row.corrected, person.id
        for d in month.days:
            assert d.mark == _day_mark(views[d.day].get(person.id)), (person.id, d.day)
            marks_seen.add(d.mark)
    # The data reaches every mark (not yet: only while the month runs).
    running = now < datetime(2026, 12, 1, tzinfo=TZ)
    assert marks_seen == set(DayMark) - (set() if running else {DayMark.NOT_YET})
    assert any(d.corrected for d in months["o3"].days if d.day.day == 11)


@pytest.mark.parametrize("group", [None, "plant"])
def test_the_site_line_agrees_with_the_day_view(
    site: tuple[Site, Database], group: str | None
) -> None:
    generated, db = site
    created = {p.id: p.created_at for p in generated.people}
    now = NOWS[0]
    with db.read() as conn:
        line = daily.site_month(conn, FIRST, LAST, tz=TZ, group=group, now=now)
        for point in line.days:
            view = reports.day_view(conn, point.day, tz=TZ, group=group, now=now)
            present = sum(1 for r in view.rows if r.status in PRESENT)
            # Listed people (created before the day's window began) whose group works that
            # day and who are not on leave.
            expected = sum(
                1
                for r in view.rows
                if r.working and r.leave is None and created[r.person_id] < r.window_start
            )
            assert (point.present, point.expected) == (present, expected), point.day
            assert point.happened == (point.day <= now.date())
    assert sum(d.present for d in line.days) > 0
    holiday = next(d for d in line.days if d.day.day == 17)
    assert holiday.expected == 0


def test_terminal_hours_count_the_days_punches_per_local_hour(
    site: tuple[Site, Database],
) -> None:
    generated, db = site
    day = FIRST + timedelta(days=10)
    want = Counter(
        when.astimezone(TZ).hour
        for _, _, _, when in generated.events
        if when.astimezone(TZ).date() == day
    )
    with db.read() as conn:
        counts = daily.terminal_hours(conn, "gate", day, tz=TZ)
        with pytest.raises(LookupError):
            daily.terminal_hours(conn, "nowhere", day, tz=TZ)
    assert counts == [want.get(h, 0) for h in range(24)]
    assert sum(counts) > 0


def test_a_dst_day_has_its_repeated_hour_in_one_bar(db_url: str) -> None:
    """Europe/Berlin, 25 October 2026: 02:00-03:00 happens twice, 23:30 is the last."""
    tz = reports.zone("Europe/Berlin")
    day = datetime(2026, 10, 25).date()
    first_pass = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    second_pass = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    last = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)  # 23:30 CET
    next_day = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # 00:30 on the 26th
    db = Database.from_url(db_url, pool_size=1)
    try:
        migrate(db)
        with db.write() as conn:
            conn.execute(
                sa.insert(terminals).values(
                    id="t1", group_name="default", description="", token_hash="1" * 64,
                    created_at=first_pass, reset_below=0,
                )
            )  # fmt: skip
            conn.execute(
                sa.insert(events),
                [_event_row("t1", when) for when in (first_pass, second_pass, last, next_day)],
            )
        with db.read() as conn:
            counts = daily.terminal_hours(conn, "t1", day, tz=tz)
    finally:
        db.dispose()
    assert counts[2] == 2
    assert counts[23] == 1
    assert sum(counts) == 3


def _event_row(device: str, when: datetime, person: str = "x") -> dict[str, object]:
    return {
        "id": uuid.uuid4(), "device_id": device, "person_id": person, "kind": "in",
        "wall_time": when, "clock_synced": True, "monotonic": 1.0, "boot_id": "b",
        "distance": 0.3, "margin": 0.2, "corrected_time": when, "time_source": "terminal",
        "received_at": when, "person_known": True, "effective_us": epoch_us(when),
    }  # fmt: skip


# --- the SVG itself ----------------------------------------------------------------------------


def _parse(body: str) -> ET.Element:
    root = ET.fromstring(body.encode())
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox", "").startswith("0 0 ")
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text
    assert root.get("aria-label") == title.text
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_a_hostile_name_is_escaped_and_the_document_stays_well_formed() -> None:
    month = daily.PersonMonth(
        "p", HOSTILE, "office", None, [daily.PersonDay(FIRST, DayMark.PRESENT, corrected=True)]
    )
    body = charts.heatmap(month, i18n.lang("en"), {})
    root = _parse(body)
    assert "<script>" not in body
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text is not None
    assert "<script>alert('x')</script> & \"Bobby\" \ufffd" in title.text
    assert root.findall(f".//{SVG}path[@class='corrected']")


def test_the_words_follow_the_language() -> None:
    days = [
        daily.PersonDay(FIRST + timedelta(days=i), mark, corrected=i == 2)
        for i, mark in enumerate([DayMark.PRESENT, DayMark.LATE, DayMark.ABSENT])
    ]
    month = daily.PersonMonth("p", "Siti", "office", None, days)
    english_svg = _parse(charts.heatmap(month, i18n.lang("en"), {}))
    english = _texts(english_svg)
    indonesian = _texts(_parse(charts.heatmap(month, i18n.lang("id"), {})))
    assert english_svg.get("aria-label") == "Attendance of Siti, November 2026"
    assert english[0] == "November 2026"
    assert "Present (1)" in english
    assert "Late (1)" in english
    # Monday first: the narrow weekday names of each language.
    assert english[1:8] == ["M", "T", "W", "T", "F", "S", "S"]
    assert indonesian[1:8] == ["S", "S", "R", "K", "J", "S", "M"]
    assert "Tidak hadir (1)" in indonesian
    assert "dikoreksi" in indonesian
    # 1 November 2026 is a Sunday: the first square is the week's last.
    assert english[8:10] == ["1", "P"]
    assert indonesian[8] == "1"


def test_expected_stays_visible_where_it_equals_present() -> None:
    days = [daily.SiteDay(FIRST + timedelta(days=i), 5, 5, happened=i < 3) for i in range(5)]
    root = _parse(
        charts.site_line(daily.SiteMonth(FIRST, days[-1].day, None, None, days), i18n.lang("en"))
    )
    drawn = [e.get("class") for e in root if e.tag in (f"{SVG}polyline", f"{SVG}circle")]
    # Expected comes after present and its markers, so it is painted on top of them.
    assert drawn == ["present", "point", "point", "point", "expected"]
    present = root.find(f"{SVG}polyline[@class='present']")
    expected = root.find(f"{SVG}polyline[@class='expected']")
    assert present is not None
    assert expected is not None
    assert present.get("points", "").split() == expected.get("points", "").split()[:3]
    # Told apart by shape, not only colour: thinner and dashed over thick and solid.
    assert float(expected.get("stroke-width", "0")) < float(present.get("stroke-width", "0"))
    assert expected.get("stroke-dasharray")
    assert present.get("stroke-dasharray") is None
    # The legend draws each line as the plot does.
    legend = root.find(f"{SVG}g[@class='legend']")
    assert legend is not None
    present_key, expected_key = legend.findall(f"{SVG}line")
    for key, line in ((present_key, present), (expected_key, expected)):
        assert [key.get(a) for a in ("stroke", "stroke-width", "stroke-dasharray")] == [
            line.get(a) for a in ("stroke", "stroke-width", "stroke-dasharray")
        ]
    assert _texts(legend) == ["Present", "Expected"]


# --- the endpoints -----------------------------------------------------------------------------


@pytest.fixture
def site_web(site: tuple[Site, Database], make_web: Callable[..., Web]) -> Web:
    client = make_web(site_timezone="Asia/Jakarta")
    assert client.login().status_code == 303
    return client


def test_the_person_chart_is_the_persons_month(site_web: Web, site: tuple[Site, Database]) -> None:
    _, db = site
    response = site_web.get("/admin/charts/people/o0/month.svg?month=2026-11")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = _parse(response.text)
    squares = root.findall(f".//{SVG}g[@data-day]")
    with db.read() as conn:
        month = daily.person_month(conn, "o0", FIRST, LAST, tz=TZ)
    assert [(g.get("data-day"), g.get("class")) for g in squares] == [
        (d.day.isoformat(), f"day {d.mark.value}") for d in month.days
    ]
    assert month.leave_days() == {"sick": 2}
    indonesian = site_web.get(
        "/admin/charts/people/o0/month.svg?month=2026-11", headers={"Accept-Language": "id"}
    )
    assert indonesian.headers["content-language"] == "id"
    words = _texts(_parse(indonesian.text))
    assert words[1:8] == ["S", "S", "R", "K", "J", "S", "M"]
    assert any(w.startswith("Tidak hadir (") for w in words)
    assert "dikoreksi" in words
    december = site_web.get(
        "/admin/charts/site/month.svg?month=2026-12", headers={"Accept-Language": "id"}
    )
    assert "Desember 2026" in (_parse(december.text).get("aria-label") or "")


def test_the_site_and_terminal_charts(site_web: Web) -> None:
    line = site_web.get("/admin/charts/site/month.svg?month=2026-11&group=plant")
    assert line.status_code == 200
    root = _parse(line.text)
    assert "Group: plant" in (root.get("aria-label") or "")
    points = root.findall(f".//{SVG}circle[@data-day]")
    assert len(points) == 30  # the month is over
    token = site_web.api.create_terminal("door")
    site_web.api.create_person("walker")
    now = datetime.now(UTC)
    posted = site_web.api.post_batch(
        token,
        batch("door", [event("door", "walker", wall_time=now - timedelta(seconds=5))]),
    )
    assert posted.status_code == 200, posted.text
    spark = site_web.get("/admin/charts/terminals/door/today.svg")
    assert spark.status_code == 200
    bars = _parse(spark.text).findall(f".//{SVG}rect[@data-hour]")
    hour = (now - timedelta(seconds=5)).astimezone(TZ).hour
    assert [(b.get("data-hour"), b.get("data-count")) for b in bars] == [(str(hour), "1")]


def test_the_endpoints_refuse_strangers_and_bad_input(
    site_web: Web, make_web: Callable[..., Web]
) -> None:
    stranger = make_web(site_timezone="Asia/Jakarta")
    for path in (
        "/admin/charts/people/o0/month.svg",
        "/admin/charts/site/month.svg",
        "/admin/charts/terminals/gate/today.svg",
    ):
        refused = stranger.get(path)
        assert refused.status_code == 401
        assert refused.json()["reason"] == "login_required"
    cases = [
        ("/admin/charts/people/nobody/month.svg", 404, "unknown_person"),
        ("/admin/charts/terminals/nowhere/today.svg", 404, "unknown_terminal"),
        ("/admin/charts/people/o0/month.svg?month=2026-13", 422, "bad_month"),
        ("/admin/charts/site/month.svg?month=November", 422, "bad_month"),
        ("/admin/charts/site/month.svg?month=0001-01", 422, "bad_range"),
    ]
    for path, status, reason in cases:
        answer = site_web.get(path)
        assert answer.status_code == status, path
        assert answer.json()["reason"] == reason, path
        assert answer.json()["detail"]


def test_a_hostile_name_over_http(site_web: Web, site: tuple[Site, Database]) -> None:
    _, db = site
    when = datetime(2025, 1, 1, tzinfo=UTC)
    with db.write() as conn:
        conn.execute(
            sa.insert(people).values(
                id="mallory", name=HOSTILE.replace("\x01", ""), group_name="office",
                created_at=when, updated_at=when,
            )
        )  # fmt: skip
    answer = site_web.get("/admin/charts/people/mallory/month.svg?month=2026-11")
    assert answer.status_code == 200
    assert "<script>" not in answer.text
    assert "alert('x')" in (_parse(answer.text).get("aria-label") or "")


def test_the_pages_embed_the_charts(site_web: Web) -> None:
    person = site_web.get("/admin/people/o0?month=2026-11")
    assert person.status_code == 200
    assert 'src="/admin/charts/people/o0/month.svg?month=2026-11"' in person.text
    assert 'href="/admin/people/o0?month=2026-10#attendance"' in person.text
    assert 'href="/admin/people/o0?month=2026-12#attendance"' in person.text
    assert site_web.get("/admin/people/o0?month=2026-1x").status_code == 422
    page = site_web.get("/admin/reports?date=2026-11-05&month=2026-11&group=plant")
    assert page.status_code == 200
    assert 'src="/admin/charts/site/month.svg?month=2026-11&amp;group=plant' in page.text
    site_web.api.create_terminal("door")
    listing = site_web.get("/admin/terminals")
    assert 'src="/admin/charts/terminals/door/today.svg"' in listing.text
    assert 'href="/admin/static/charts.css"' in listing.text
