"""Charts as server-rendered SVG (docs/charts.md): a person's month as a calendar heatmap, a
site's month as present vs expected lines, a terminal's day as a sparkline of punches per hour.

No chart library and no script: each chart is a string of SVG built here, every text and
attribute escaped, with a ``viewBox`` so that an ``<img>`` scales it to a phone's width. The
words (legend, weekday initials, month names) are in the request's language. A status is told
by a letter and a position as well as by its colour, and the colours are the Okabe-Ito
palette, which stays apart under the common kinds of colour blindness.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from sync_server import reports
from sync_server.deps import services
from sync_server.reports import daily
from sync_server.reports.daily import DayMark
from sync_server.web import i18n
from sync_server.web.forms import filters, month_param
from sync_server.web.i18n import N_
from sync_server.web.render import Page
from sync_server.web.session import admin_router, login_required_json

router = admin_router(json=True)

SVG_MEDIA_TYPE = "image/svg+xml"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
INK = "#1b1f24"
MUTED = "#5b6470"
GRID = "#d8dde3"

# Okabe-Ito colours; black text reads on each of them (contrast 5:1 or more).
FILLS = {
    DayMark.PRESENT: "#009E73",  # bluish green
    DayMark.LATE: "#E69F00",  # orange
    DayMark.ABSENT: "#D55E00",  # vermillion
    DayMark.LEAVE: "#56B4E9",  # sky blue
    DayMark.HOLIDAY: "#CC79A7",  # reddish purple
    DayMark.DAY_OFF: "#E8C8DC",  # the holiday's purple, light
    DayMark.NOT_WORKING: "#E7EAEE",
    DayMark.NOT_YET: "#FFFFFF",
    DayMark.UNLISTED: "#FFFFFF",
}
WORDS = {
    DayMark.PRESENT: N_("Present"),
    DayMark.LATE: N_("Late"),
    DayMark.ABSENT: N_("Absent"),
    DayMark.LEAVE: N_("Leave"),
    DayMark.HOLIDAY: N_("Holiday"),
    DayMark.DAY_OFF: N_("Day off"),
    DayMark.NOT_WORKING: N_("Not a working day"),
    DayMark.NOT_YET: N_("Not yet"),
    DayMark.UNLISTED: N_("Not listed yet"),
}
# A cell's letter, as "letter|meaning": the meaning keeps the catalogue's msgids apart and
# tells a translator what the letter stands for; only the part before "|" is drawn.
LETTERS = {
    DayMark.PRESENT: N_("P|present"),
    DayMark.LATE: N_("L|late"),
    DayMark.ABSENT: N_("A|absent"),
    DayMark.LEAVE: N_("E|excused: on leave"),
    DayMark.HOLIDAY: N_("H|holiday"),
    DayMark.DAY_OFF: N_("O|day off"),
    DayMark.NOT_WORKING: N_("-|not a working day"),
}
PRESENT_LINE = "#009E73"
EXPECTED_LINE = "#0072B2"  # blue, and dashed
# Expected is drawn over present, thinner and dashed: where the two are equal a green band
# with a blue dash along its middle shows both, in shape as well as colour.
PRESENT_WIDTH = 4
PRESENT_POINT = 3.5
EXPECTED_WIDTH = 1.5
EXPECTED_DASH = "5 3"
SPARK_BAR = "#0072B2"

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(value: object) -> str:
    # Characters XML 1.0 cannot hold at all (control characters) would make the document
    # unreadable, escaped or not.
    return _NOT_XML.sub("\ufffd", str(value))


def text(value: object) -> str:
    return escape(_clean(value))


def attr(value: object) -> str:
    """An attribute value with its quotes (quotes, newlines and tabs escaped)."""
    return quoteattr(_clean(value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def tag(name: str, content: str | None = None, /, **attrs: object) -> str:
    """An element; attribute names use ``_`` for ``-`` (``stroke_width``), ``class_`` for
    ``class``. ``content`` is markup (escape text with :func:`text`)."""
    parts = [name]
    for key, value in attrs.items():
        if value is None:
            continue
        parts.append(f"{key.rstrip('_').replace('_', '-')}={attr(value)}")
    opening = " ".join(parts)
    if content is None:
        return f"<{opening}/>"
    return f"<{opening}>{content}</{name}>"


def svg(width: int, height: int, title: str, body: Iterable[str]) -> str:
    """A whole document: ``role="img"``, its ``<title>`` and ``aria-label``, a ``viewBox``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + tag(
            "svg",
            tag("title", text(title)) + "".join(body),
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {width} {height}",
            width=width,
            height=height,
            role="img",
            aria_label=title,
            font_family=FONT,
            fill=INK,
        )
        + "\n"
    )


def letter(lang: i18n.Lang, mark: DayMark) -> str:
    found = LETTERS.get(mark)
    return lang.gettext(found).split("|", 1)[0] if found else ""


def month_label(lang: i18n.Lang, first: date) -> str:
    return lang.format_date(first, "LLLL y")


# --- the person's month --------------------------------------------------------------------

CELL = 44
GAP = 4
PAD = 8
HEAD = 44  # title and weekday initials


def heatmap(month: daily.PersonMonth, lang: i18n.Lang, leave_labels: dict[str, str]) -> str:
    """The month as a calendar: one square per day, Monday first, with the day's number, its
    letter and colour, a corner mark on corrected days, and a ``<title>`` saying it all."""
    first = month.days[0].day
    label = month_label(lang, first)
    title = lang.gettext("Attendance of %(name)s, %(month)s", name=month.name, month=label)
    width = PAD * 2 + 7 * CELL + 6 * GAP
    offset = first.weekday()
    weeks = (offset + len(month.days) + 6) // 7
    grid_bottom = HEAD + weeks * (CELL + GAP)
    # The visible heading is the month (the page names the person, and a long name would
    # run off a phone's width); the title and aria-label say both.
    body = [tag("text", text(label), x=PAD, y=16, font_size=14, font_weight="bold")]
    initials = babel_dates.get_day_names("narrow", locale=lang.locale)
    for weekday in range(7):
        x = PAD + weekday * (CELL + GAP) + CELL // 2
        body.append(
            tag("text", text(initials[weekday]), x=x, y=36, font_size=12, text_anchor="middle",
                fill=MUTED)
        )  # fmt: skip
    for i, d in enumerate(month.days):
        slot = offset + i
        x = PAD + (slot % 7) * (CELL + GAP)
        y = HEAD + (slot // 7) * (CELL + GAP)
        words = [lang.format_date(d.day, "full"), lang.gettext(WORDS[d.mark])]
        if d.leave is not None:
            words.append(leave_labels.get(d.leave, d.leave))
        if d.day_off_name:
            words.append(d.day_off_name)
        if d.corrected:
            words.append(lang.gettext("corrected"))
        cell = [
            tag("title", text(", ".join(words))),
            tag("rect", x=x, y=y, width=CELL, height=CELL, rx=4, fill=FILLS[d.mark],
                stroke=GRID if d.mark in (DayMark.NOT_YET, DayMark.UNLISTED) else None),
            tag("text", text(d.day.day), x=x + 4, y=y + 12, font_size=10),
            tag("text", text(letter(lang, d.mark)), x=x + CELL // 2, y=y + CELL - 10,
                font_size=16, font_weight="bold", text_anchor="middle"),
        ]  # fmt: skip
        if d.corrected:
            cell.append(_corner(x, y))
        body.append(
            tag("g", "".join(cell), class_=f"day {d.mark.value}", data_day=d.day.isoformat())
        )
    counts = month.counts()
    shown = [m for m in DayMark if m not in (DayMark.UNLISTED,) or counts[m.value]]
    legend = [(FILLS[m], letter(lang, m), f"{lang.gettext(WORDS[m])} ({counts[m.value]})")
              for m in shown]  # fmt: skip
    items = [_legend_swatch(fill, mark) for fill, mark, _ in legend]
    words = [words for _, _, words in legend]
    items.append(_corner(0, 0, size=10))
    words.append(lang.gettext("corrected"))
    column = (width - 2 * PAD) // 2
    for i, (swatch, words_) in enumerate(zip(items, words, strict=True)):
        x = PAD + (i % 2) * column
        y = grid_bottom + 8 + (i // 2) * 22
        body.append(
            tag("g", swatch + tag("text", text(words_), x=22, y=13, font_size=12),
                transform=f"translate({x},{y})", class_="legend")
        )  # fmt: skip
    height = grid_bottom + 8 + ((len(items) + 1) // 2) * 22 + PAD
    return svg(width, height, title, body)


def _legend_swatch(fill: str, mark: str) -> str:
    return tag("rect", x=0, y=0, width=16, height=16, rx=3, fill=fill, stroke=GRID) + tag(
        "text", text(mark), x=8, y=13, font_size=11, font_weight="bold", text_anchor="middle"
    )


def _corner(x: int, y: int, size: int = 12) -> str:
    """The corrected mark: a dark triangle in the square's top right corner."""
    right = x + (CELL if size == 12 else 16)
    return tag("path", d=f"M{right - size},{y} H{right} V{y + size} Z", fill=INK,
               class_="corrected")  # fmt: skip


def _fit(words: str, length: int) -> str:
    return words if len(words) <= length else words[: length - 1] + "…"


# --- the site's month ----------------------------------------------------------------------

LINE_W, LINE_H = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 34, 10, 52, 28


def site_line(month: daily.SiteMonth, lang: i18n.Lang) -> str:
    """Present (thick solid line, round markers, only the days that have begun) and expected
    (thin dashed line, drawn last so that it stays visible where it equals present) people
    per day."""
    first = month.days[0].day
    title = lang.gettext("Present and expected, %(month)s", month=month_label(lang, first))
    # The filters, in the words of the reports page's form.
    scope = [
        lang.gettext(word) + ": " + value
        for word, value in ((N_("Group"), month.group), (N_("Department"), month.department))
        if value
    ]
    if scope:
        title += " (" + ", ".join(scope) + ")"
    label = month_label(lang, first)
    top_value = max([1, *(d.expected for d in month.days), *(d.present for d in month.days)])
    plot_w = LINE_W - LEFT - RIGHT
    plot_h = LINE_H - TOP - BOTTOM
    step = plot_w / max(1, len(month.days) - 1)

    def x_of(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y_of(value: int) -> float:
        return round(TOP + plot_h - value * plot_h / top_value, 1)

    # The month as the visible heading and the filters beside it, cut to fit a phone's width
    # (the title and aria-label say them whole).
    body = [tag("text", text(label), x=4, y=16, font_size=13, font_weight="bold")]
    if scope:
        body.append(
            tag("text", text(_fit(", ".join(scope), 30)), x=LINE_W - 4, y=16, font_size=11,
                text_anchor="end", fill=MUTED)
        )  # fmt: skip
    present_word = lang.gettext("Present")
    expected_word = lang.gettext("Expected")
    body.append(
        tag("g",
            tag("line", x1=0, y1=-4, x2=22, y2=-4, stroke=PRESENT_LINE,
                stroke_width=PRESENT_WIDTH)
            + tag("circle", cx=11, cy=-4, r=PRESENT_POINT, fill=PRESENT_LINE)
            + tag("text", text(present_word), x=28, y=0, font_size=12)
            + tag("line", x1=150, y1=-4, x2=172, y2=-4, stroke=EXPECTED_LINE,
                  stroke_width=EXPECTED_WIDTH, stroke_dasharray=EXPECTED_DASH)
            + tag("text", text(expected_word), x=178, y=0, font_size=12),
            transform="translate(4,38)", class_="legend")
    )  # fmt: skip
    for value in sorted({0, top_value // 2, top_value}):
        y = y_of(value)
        body.append(tag("line", x1=LEFT, y1=y, x2=LINE_W - RIGHT, y2=y, stroke=GRID))
        body.append(
            tag("text", text(lang.format_decimal(value)), x=LEFT - 4, y=y + 4, font_size=10,
                text_anchor="end", fill=MUTED)
        )  # fmt: skip
    for i, d in enumerate(month.days):
        if d.day.day == 1 or d.day.day % 5 == 0:
            body.append(
                tag("text", text(d.day.day), x=x_of(i), y=LINE_H - BOTTOM + 16, font_size=10,
                    text_anchor="middle", fill=MUTED)
            )  # fmt: skip
    happened = [(i, d) for i, d in enumerate(month.days) if d.happened]
    if happened:
        body.append(
            tag("polyline", points=" ".join(f"{x_of(i)},{y_of(d.present)}" for i, d in happened),
                fill="none", stroke=PRESENT_LINE, stroke_width=PRESENT_WIDTH, class_="present")
        )  # fmt: skip
    for i, d in happened:
        says = lang.gettext(
            "%(day)s: %(present)s present of %(expected)s expected",
            day=lang.format_date(d.day),
            present=d.present,
            expected=d.expected,
        )
        body.append(
            tag("circle", tag("title", text(says)), cx=x_of(i), cy=y_of(d.present),
                r=PRESENT_POINT, fill=PRESENT_LINE, class_="point", data_day=d.day.isoformat(),
                data_present=d.present, data_expected=d.expected)
        )  # fmt: skip
    # Last, over the present line and its markers (which would otherwise hide it).
    expected_points = " ".join(f"{x_of(i)},{y_of(d.expected)}" for i, d in enumerate(month.days))
    body.append(
        tag("polyline", points=expected_points, fill="none", stroke=EXPECTED_LINE,
            stroke_width=EXPECTED_WIDTH, stroke_dasharray=EXPECTED_DASH, class_="expected")
    )  # fmt: skip
    return svg(LINE_W, LINE_H, title, body)


# --- the terminal's day --------------------------------------------------------------------

SPARK_W, SPARK_H = 120, 32
BAR = SPARK_W // daily.HOURS


def sparkline(terminal_id: str, counts: Sequence[int], lang: i18n.Lang) -> str:
    """One bar per local hour, midnight to midnight, ticks at 06, 12 and 18."""
    total = sum(counts)
    title = lang.gettext(
        "%(terminal)s, punches today: %(count)s", terminal=terminal_id, count=total
    )
    if total:
        busiest = max(range(len(counts)), key=lambda h: (counts[h], -h))
        busiest_at = f"{busiest:02d}:00"
        title += "; " + lang.gettext(
            "busiest hour %(hour)s (%(count)s)", hour=busiest_at, count=counts[busiest]
        )
    base = SPARK_H - 4
    top = max(1, *counts)
    body = [tag("line", x1=0, y1=base, x2=SPARK_W, y2=base, stroke=GRID)]
    for hour in (6, 12, 18):
        body.append(tag("line", x1=hour * BAR, y1=base, x2=hour * BAR, y2=SPARK_H, stroke=MUTED))
    for hour, count in enumerate(counts):
        if count:
            height = max(1.0, round(count * (base - 2) / top, 1))
            body.append(
                tag("rect", tag("title", text(f"{hour:02d}:00 {count}")), x=hour * BAR + 0.5,
                    y=round(base - height, 1), width=BAR - 1, height=height, fill=SPARK_BAR,
                    class_="hour", data_hour=hour, data_count=count)
            )  # fmt: skip
    return svg(SPARK_W, SPARK_H, title, body)


# --- the endpoints -------------------------------------------------------------------------


async def _lang(request: Request) -> i18n.Lang:
    """The request's language, as its page would have it (account, else the browser)."""
    session = await login_required_json(request)
    return Page(request, session, services(request).site_zone).lang


def _svg_response(document: str, lang: i18n.Lang) -> Response:
    return Response(document, media_type=SVG_MEDIA_TYPE, headers={"Content-Language": lang.locale})


def _month(request: Request) -> tuple[date, date]:
    """The ``month`` parameter's days (this month by default): 422 bad_month or bad_range."""
    month = month_param(request, reports.local_today(services(request).site_zone))
    first, last = reports.month_bounds(month)
    reports.check_range(first, last)
    return first, last


@router.get("/charts/people/{person_id}/month.svg")
async def person_month_chart(request: Request, person_id: str) -> Response:
    lang = await _lang(request)
    svc = services(request)
    first, last = _month(request)

    def build() -> str:
        with svc.db.read() as conn:
            found = daily.person_month(conn, person_id, first, last, tz=svc.site_zone)
            kinds = reports.load_leave_kinds(conn)
        labels = {
            code: kind.label_id if lang.locale == "id" else kind.label_en
            for code, kind in kinds.items()
        }
        return heatmap(found, lang, labels)

    return _svg_response(await run_in_threadpool(build), lang)


@router.get("/charts/site/month.svg")
async def site_month_chart(request: Request) -> Response:
    lang = await _lang(request)
    svc = services(request)
    first, last = _month(request)
    group, department = filters(request)

    def build() -> str:
        with svc.db.read() as conn:
            found = daily.site_month(
                conn, first, last, tz=svc.site_zone, group=group, department=department
            )
        return site_line(found, lang)

    return _svg_response(await run_in_threadpool(build), lang)


@router.get("/charts/terminals/{terminal_id}/today.svg")
async def terminal_today_chart(request: Request, terminal_id: str) -> Response:
    lang = await _lang(request)
    svc = services(request)
    today = reports.local_today(svc.site_zone)

    def build() -> str:
        with svc.db.read() as conn:
            counts = daily.terminal_hours(conn, terminal_id, today, tz=svc.site_zone)
        return sparkline(terminal_id, counts, lang)

    return _svg_response(await run_in_threadpool(build), lang)


# --- for the pages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthNav:
    """The month a page shows a chart of, and its neighbours, as ``YYYY-MM``."""

    first: date
    month: str
    previous: str
    next: str


def month_nav(request: Request, tz: ZoneInfo) -> MonthNav:
    """From the page's ``month`` parameter (this month by default): 422 bad_month or
    bad_range, as the chart's endpoint answers."""
    first = month_param(request, reports.local_today(tz))
    reports.check_range(first, reports.month_bounds(first)[1])
    before = (first - timedelta(days=1)).replace(day=1)
    after = reports.month_bounds(first)[1] + timedelta(days=1)
    return MonthNav(first, f"{first:%Y-%m}", f"{before:%Y-%m}", f"{after:%Y-%m}")
