"""The admin web's languages: English and Bahasa Indonesia, chosen per request.

The words live in gettext catalogues under ``locale/`` (``messages.pot``, and one
``<lang>/LC_MESSAGES/messages.po`` per language), kept by ``scripts/i18n.py`` (extract,
update, check). The ``.po`` files are read at runtime with Babel's ``read_po`` and turned
into a gettext translation in memory, once per process: no compiled ``.mo`` in the
repository, no build step.

A request's language is the logged-in account's choice (``admin_accounts.locale``), else
the browser's ``Accept-Language``, else English (docs/web.md, "Languages").

Dates and numbers go through Babel with the page's locale (``Lang.format_date``,
``Lang.format_percent`` ...): "2 Des 2026" and "95,5%" in Indonesian, "Dec 2, 2026" and "95.5%"
in English.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from edge.wording import plural as english_plural

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# The languages of the admin web, in the order the language switch lists them; each has a
# catalogue except the default, whose words are the msgids themselves.
LOCALES = ("en", "id")
# The language's own name, for the switch (not translated: a reader looks for their own).
NAMES = {"en": "English", "id": "Bahasa Indonesia"}
# "in" is Indonesian's code before ISO 639 changed it in 1989; old Java and Android
# browsers still send it.
_ALIASES = {"in": "id"}


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a string for the catalogue without translating it here (it is translated where
    it is shown, with that page's language)."""
    return message


def known(tag: str | None) -> str | None:
    """The admin web's language for a language tag ("id-ID" -> "id"), or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The language of an ``Accept-Language`` header (q-values honoured); English otherwise.

    The first language of the browser's list that this site has wins; a language with q=0
    is one the reader does not want.
    """
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            choices.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(choices):
        found = known(tag)
        if found is not None:
            return found
        if tag == "*":
            return DEFAULT
    return DEFAULT


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


_lock = threading.Lock()
_loaded: dict[str, _gettext.NullTranslations] = {}


def translations(locale: str) -> _gettext.NullTranslations:
    """The gettext translation of a language, read from its ``.po`` once per process.

    English (and a language without a catalogue) is the msgids themselves. Fuzzy entries are
    left out, as msgfmt does: a guess is not a translation.
    """
    found = _loaded.get(locale)
    if found is not None:
        return found
    with _lock:
        found = _loaded.get(locale)
        if found is None:
            path = po_path(locale)
            if locale == DEFAULT or not path.is_file():
                found = _gettext.NullTranslations()
            else:
                with path.open("rb") as po:
                    catalog = read_po(po, locale=locale, domain=DOMAIN)
                compiled = io.BytesIO()
                write_mo(compiled, catalog, use_fuzzy=False)
                compiled.seek(0)
                found = _gettext.GNUTranslations(compiled)
            _loaded[locale] = found
    return found


@dataclass(frozen=True, slots=True)
class Lang:
    """One language's words and formats, for a page or a message made in Python."""

    locale: str

    @property
    def _translations(self) -> _gettext.NullTranslations:
        return translations(self.locale)

    def gettext(self, message: str, **variables: Any) -> str:
        """``message`` in this language, with ``%(name)s`` filled from ``variables``."""
        text = self._translations.gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, many: str, count: int, **variables: Any) -> str:
        """The form for ``count`` (``%(num)d`` is the count, as in Jinja's newstyle)."""
        text = self._translations.ngettext(singular, many, count)
        return text % {"num": count, **variables}

    def plural(self, count: int, noun: str, many: str | None = None) -> str:
        """``count`` and ``noun`` ("3 people"): in English with the noun's plural, in
        Indonesian the noun as it is (a number says how many; "3 orang")."""
        if self.locale == DEFAULT:
            return english_plural(count, noun, many)
        return f"{self.format_decimal(count)} {self.gettext(noun)}"

    # Dates and numbers: Babel's CLDR data for the locale.

    def format_date(self, value: date | datetime | str | None, form: str = "medium") -> str:
        """A date (or an ISO 8601 date's text): "medium" is "2 Des 2026" / "Dec 2, 2026",
        "full" adds the weekday ("Rabu, 02 Desember 2026")."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value)
        return babel_dates.format_date(value, form, locale=self.locale)

    def format_datetime(
        self, value: datetime | None, tz: ZoneInfo | None = None, form: str = "medium"
    ) -> str:
        """A moment on the site's wall clock (``tz``): date and time to the second."""
        if value is None:
            return ""
        if tz is not None and value.tzinfo is not None:
            value = value.astimezone(tz)
        return babel_dates.format_datetime(value, form, locale=self.locale)

    def format_time(self, value: datetime | time | None, form: str = "short") -> str:
        if value is None:
            return ""
        return babel_dates.format_time(value, form, locale=self.locale)

    def format_decimal(self, value: float | int | None, digits: int | None = None) -> str:
        """A number with the locale's separators ("1.234,5" / "1,234.5")."""
        if value is None:
            return ""
        if digits is None:
            return babel_numbers.format_decimal(value, locale=self.locale)
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return babel_numbers.format_decimal(value, format=pattern, locale=self.locale)

    def format_percent(self, value: float | None, digits: int = 1) -> str:
        """A share (0.955) as a percentage: "95,5%" / "95.5%"."""
        if value is None:
            return ""
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return babel_numbers.format_percent(value, format=pattern, locale=self.locale)

    def duration(self, minutes: int | float | timedelta | None) -> str:
        """A length of time to the minute: "1 h 05 min" / "1 j 05 mnt"."""
        if minutes is None:
            return ""
        if isinstance(minutes, timedelta):
            minutes = minutes.total_seconds() / 60
        hours, rest = divmod(int(minutes), 60)
        if hours:
            return self.gettext(
                "%(hours)s h %(minutes)s min", hours=hours, minutes=str(rest).zfill(2)
            )
        return self.gettext("%(minutes)s min", minutes=rest)

    def ago(self, seconds: float | None) -> str:
        """How long ago, in the unit a reader wants: seconds, minutes, hours, days."""
        if seconds is None:
            return self.gettext("never")
        if seconds < 90:
            return self.gettext("%(n)s s ago", n=int(seconds))
        if seconds < 5400:
            return self.gettext("%(n)s min ago", n=int(seconds // 60))
        if seconds < 172_800:
            return self.gettext("%(n)s h ago", n=int(seconds // 3600))
        return self.gettext("%(n)s days ago", n=int(seconds // 86_400))

    def zone(self, tz: ZoneInfo) -> str:
        """The footer's time-zone line: "times in UTC", or "Time zone: Asia/Jakarta (WIB)"."""
        name = str(tz)
        if name in ("UTC", "Etc/UTC"):
            return self.gettext("times in UTC")
        abbreviation = datetime.now(tz).tzname() or ""
        if abbreviation and abbreviation != name:
            return self.gettext("Time zone: %(zone)s (%(abbr)s)", zone=name, abbr=abbreviation)
        return self.gettext("Time zone: %(zone)s", zone=name)


def lang(locale: str | None) -> Lang:
    return Lang(locale if locale in LOCALES else DEFAULT)


def all_locales() -> Iterable[tuple[str, str]]:
    """(code, name) of every language, for the switch."""
    return ((code, NAMES[code]) for code in LOCALES)
