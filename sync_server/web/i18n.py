"""The admin web's languages: English and Bahasa Indonesia, chosen per request.

The words live in gettext catalogues under ``locale/`` (``messages.pot``, and one
``<lang>/LC_MESSAGES/messages.po`` per language), kept by ``scripts/i18n.py`` (extract,
update, check), and read by :mod:`sync_server.catalogue` (which the API's CSV export and
``hadir attendance`` use too).

A request's language is the logged-in account's choice (``admin_accounts.locale``), else
the browser's ``Accept-Language``, else English (docs/web.md, "Languages").

Dates and numbers go through Babel with the page's locale (``Lang.format_date``,
``Lang.format_percent`` ...): "2 Des 2026" and "95,5%" in Indonesian, "Dec 2, 2026" and "95.5%"
in English.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from edge.wording import plural as english_plural

# The catalogue itself lives below the web (the API's CSV and the CLI translate with it too);
# these names stay importable from here.
from sync_server.catalogue import DEFAULT as DEFAULT
from sync_server.catalogue import DOMAIN as DOMAIN
from sync_server.catalogue import LOCALE_DIR as LOCALE_DIR
from sync_server.catalogue import LOCALES as LOCALES
from sync_server.catalogue import N_ as N_
from sync_server.catalogue import known as known
from sync_server.catalogue import negotiate as negotiate
from sync_server.catalogue import po_path as po_path
from sync_server.catalogue import translations as translations

# The language's own name, for the switch (not translated: a reader looks for their own).
NAMES = {"en": "English", "id": "Bahasa Indonesia"}


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
