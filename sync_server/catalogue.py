"""The gettext catalogue of every word hadir shows: the admin web, the CSV exports and
``hadir attendance``, in English and Bahasa Indonesia.

The catalogues live under ``web/locale/`` (``messages.pot``, and one
``<lang>/LC_MESSAGES/messages.po`` per language), kept by ``scripts/i18n.py``. The ``.po``
is read at runtime with Babel's ``read_po`` and turned into a gettext translation in
memory, once per process: no compiled ``.mo``, no build step.

This module sits below the admin web, the API and the reports (the API and the operations
may not import the web), and imports only the standard library until a catalogue is read:
the ``hadir`` command imports it on terminals that have no Babel. The web's language object
with Babel's date and number formats is :mod:`sync_server.web.i18n`.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading
from collections.abc import Mapping
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "web" / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# The languages, in the order the web's language switch lists them; each has a catalogue
# except the default, whose words are the msgids themselves.
LOCALES = ("en", "id")
# "in" is Indonesian's code before ISO 639 changed it in 1989; old Java and Android
# browsers still send it.
_ALIASES = {"in": "id"}
# Where gettext looks for the reader's language, in its order (LANGUAGE may list several).
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark a string for the catalogue without translating it here (it is translated where
    it is shown, with that reader's language)."""
    return message


# The day's statuses in words (the reports' DayStatus values), for the CSV's status cells
# and ``hadir attendance``; the web's templates say the same words.
STATUS_WORDS = {
    "complete": N_("complete"),
    "in_only": N_("in only"),
    "out_only": N_("out only"),
    "absent": N_("absent"),
    "not_yet": N_("not yet"),
    "holiday": N_("holiday"),
    "day_off": N_("day off"),
    "not_working": N_("not a working day"),
    "leave": N_("leave"),
}


def known(tag: str | None) -> str | None:
    """The language of a tag ("id-ID", "id_ID.UTF-8" -> "id") if hadir has it, else None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].split(".", 1)[0].lower()
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


def from_environment(environ: Mapping[str, str]) -> str:
    """The reader's language as gettext finds it: the first of LANGUAGE, LC_ALL,
    LC_MESSAGES and LANG that is set decides ("C", "POSIX" or a language hadir lacks:
    English). LANGUAGE may list several, the first hadir has wins."""
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if value:
            for tag in value.split(":"):
                found = known(tag)
                if found is not None:
                    return found
            return DEFAULT
    return DEFAULT


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


_lock = threading.Lock()
_loaded: dict[str, _gettext.NullTranslations] = {}


def translations(locale: str) -> _gettext.NullTranslations:
    """The gettext translation of a language, read from its ``.po`` once per process.

    English (and a language without a catalogue) is the msgids themselves. Fuzzy entries are
    left out, as msgfmt does: a guess is not a translation. Reading a catalogue needs Babel
    (the server's packages); English never does.
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
                from babel.messages.mofile import write_mo
                from babel.messages.pofile import read_po

                with path.open("rb") as po:
                    catalog = read_po(po, locale=locale, domain=DOMAIN)
                compiled = io.BytesIO()
                write_mo(compiled, catalog, use_fuzzy=False)
                compiled.seek(0)
                found = _gettext.GNUTranslations(compiled)
            _loaded[locale] = found
    return found
