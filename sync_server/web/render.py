"""Rendering the admin pages: the Jinja2 templates, their filters and the page context.

Every page is HTML from a template under ``templates/``; the environment is strict (an
undefined name is an error, not an empty string) and escapes everything it prints.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from edge import __version__
from sync_server.errors import ApiError
from sync_server.web import accounts, i18n

PREFIX = "/admin"
LIST_LIMIT = 500
_HERE = Path(__file__).resolve().parent
STATIC_DIR = _HERE / "static"


def local(value: datetime | None, tz: ZoneInfo, fmt: str = "%H:%M") -> str:
    return "" if value is None else value.astimezone(tz).strftime(fmt)


def _offset(seconds: float) -> str:
    """A clock offset to a tenth of a second, signed; rounding to zero reads 0.0, not -0.0."""
    rounded = round(seconds, 1)
    return f"{rounded:+.1f}" if rounded else "0.0"


def _ago(seconds: float | None) -> str:
    return i18n.lang(i18n.DEFAULT).ago(seconds)


_loader = jinja2.FileSystemLoader(_HERE / "templates")


def _build(locale: str) -> jinja2.Environment:
    lang = i18n.lang(locale)
    env = jinja2.Environment(
        loader=_loader,
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Every string a page shows goes through _() / {% trans %}, the gettext catalogues'
        # way (docs/web.md, "Languages").
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(  # type: ignore[attr-defined]
        i18n.translations(lang.locale), newstyle=True
    )

    @jinja2.pass_context
    def format_datetime(context: Any, value: datetime | None, form: str = "medium") -> str:
        page = context.get("page")
        return lang.format_datetime(value, page.tz if isinstance(page, Page) else None, form)

    env.filters.update(
        duration=lang.duration,
        ago=lang.ago,
        offset=_offset,
        format_date=lang.format_date,
        format_datetime=format_datetime,
        format_time=lang.format_time,
        format_decimal=lang.format_decimal,
        format_percent=lang.format_percent,
    )
    env.globals["plural"] = lang.plural
    env.globals["lang"] = lang
    return env


# One environment per language, not one shared environment whose _() looks the language up
# in the render context: each environment's _, gettext, ngettext, filters and plural() are
# bound to its language once, so two requests rendering at the same time in two languages
# cannot see each other's (nothing per request is stored on a shared object), and a macro
# imported without context translates as well as the page that calls it. Templates compile
# once per language (two here), cached by each environment.
_envs: dict[str, jinja2.Environment] = {}
_envs_lock = threading.Lock()


def environment(locale: str) -> jinja2.Environment:
    """The template environment of a language (built on first use, then shared)."""
    locale = i18n.lang(locale).locale
    env = _envs.get(locale)
    if env is None:
        with _envs_lock:
            env = _envs.get(locale)
            if env is None:
                env = _envs[locale] = _build(locale)
    return env


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

    @property
    def locale(self) -> str:
        """The page's language: the account's choice, else the browser's, else English."""
        if self.session is not None:
            chosen = i18n.known(self.session.locale)
            if chosen is not None:
                return chosen
        return i18n.negotiate(self.request.headers.get("accept-language"))

    @property
    def lang(self) -> i18n.Lang:
        """The page's words and formats, for messages made in Python (``page.lang.gettext``)."""
        return i18n.lang(self.locale)


def render(page: Page, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    lang = page.lang
    html = (
        environment(lang.locale)
        .get_template(template)
        .render(
            page=page,
            locale=lang.locale,
            locales=list(i18n.all_locales()),
            zone_line=lang.zone(page.tz),
            session=page.session,
            csrf=page.session.csrf_token if page.session else "",
            version=__version__,
            timezone=str(page.tz),
            path=page.request.url.path,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status, headers={"Content-Language": lang.locale})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None) -> str:
    # Only paths of these pages: never an absolute URL or a //host open redirect.
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def csv_locale(request: Request, page_locale: str) -> str:
    """A download's language: ``lang`` in the link, else the page's (the account's choice,
    else the browser's, else English)."""
    asked = request.query_params.get("lang")
    if asked is None:
        return page_locale
    if asked not in i18n.LOCALES:
        raise ApiError(422, "bad_lang", f"lang: one of {', '.join(i18n.LOCALES)}")
    return asked
