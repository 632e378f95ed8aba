"""Rendering the admin pages: the Jinja2 templates, their filters and the page context.

Every page is HTML from a template under ``templates/``; the environment is strict (an
undefined name is an error, not an empty string) and escapes everything it prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from edge import __version__
from edge.wording import plural
from sync_server.web import accounts

PREFIX = "/admin"
LIST_LIMIT = 500
_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"


def local(value: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M") -> str:
    return "" if value is None else value.astimezone(tz).strftime(fmt)


def duration(minutes: int | float | timedelta | None) -> str:
    if minutes is None:
        return ""
    if isinstance(minutes, timedelta):
        minutes = minutes.total_seconds() / 60
    whole = int(minutes)
    hours, rest = divmod(whole, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def _offset(seconds: float) -> str:
    """A clock offset to a tenth of a second, signed; rounding to zero reads 0.0, not -0.0."""
    rounded = round(seconds, 1)
    return f"{rounded:+.1f}" if rounded else "0.0"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 172_800:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86_400)} days ago"


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # Every string a page shows goes through _() / {% trans %}, the gettext catalogues' way
    # (docs/web.md, "Languages"); until a language is chosen, the text as written (English).
    extensions=["jinja2.ext.i18n"],
)
_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
_env.filters["duration"] = duration
_env.filters["ago"] = _ago
_env.filters["offset"] = _offset
_env.globals["plural"] = plural


@dataclass(frozen=True, slots=True)
class Page:
    """What every template gets besides its own data."""

    request: Request
    session: accounts.WebSession | None
    tz: ZoneInfo
    # Events needing review, for the nav link's count on every page of a logged-in admin.
    review_open: int = 0

    def time(self, value: datetime | None, fmt: str = "%H:%M") -> str:
        return local(value, self.tz, fmt)


def render(page: Page, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(
        page=page,
        session=page.session,
        csrf=page.session.csrf_token if page.session else "",
        version=__version__,
        timezone=str(page.tz),
        path=page.request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    # Only paths of these pages: never an absolute URL or a //host open redirect.
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"
