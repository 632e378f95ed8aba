"""Keep the admin web's gettext catalogues (docs/web.md, "Languages").

    python scripts/i18n.py extract   # templates + marked Python strings -> messages.pot
    python scripts/i18n.py update    # merge messages.pot into every language's .po
    python scripts/i18n.py check     # exit 1 naming each msgid without a translation

``extract`` reads every template under ``sync_server/web/templates`` (Jinja's Babel
extractor: ``_()``, ``gettext``, ``ngettext``, ``{% trans %}``, and the noun of
``plural(n, "noun")``) and every Python module of ``sync_server`` (``_``, ``gettext``,
``ngettext``, ``N_``). ``update`` keeps existing translations, adds new msgids empty
(a changed msgid is a new one: Babel's merge, without fuzzy guesses) and drops msgids no
longer used. ``check`` extracts afresh, so a string added to a template and not yet
extracted counts as untranslated too; a fuzzy entry counts as untranslated (the server
leaves fuzzy entries out).

No compiled .mo is written: the server reads the .po files (sync_server/web/i18n.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from edge import __version__

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sync_server"
LOCALE_DIR = SOURCES / "web" / "locale"
POT = LOCALE_DIR / "messages.pot"
# The languages with a catalogue (English is the msgids themselves).
LANGUAGES = ("id",)
PROJECT = "hadir"
# The catalogues' header, instead of Babel's blanks to fill in.
_HEADER = {
    "header_comment": (
        '# The admin web\'s words, for hadir (sync_server/web/locale; docs/web.md, "Languages").\n'
        "# Kept by scripts/i18n.py: extract, update, check."
    ),
    "copyright_holder": "the hadir authors",
    "msgid_bugs_address": "the hadir issue tracker",
    "language_team": "hadir",
    "last_translator": "hadir",
    "version": __version__,
}

# Babel's keyword specs: which argument is the message (2: the second); (1, 2): singular and
# plural of ngettext. plural(count, "noun"[, "nouns"]) from edge.wording: the noun.
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "plural": (2,),
}
METHOD_MAP = [
    ("web/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {
    "web/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trimmed": "false",
        "newstyle_gettext": "true",
    }
}


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


def extract(sources: Path = SOURCES) -> Catalog:
    """Every marked string of the templates and the Python modules, with where it is used."""
    catalog = Catalog(project=PROJECT, charset="utf-8", fuzzy=False, **_HEADER)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(sources),
        method_map=METHOD_MAP,
        options_map=OPTIONS,
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        strip_comment_tags=True,
    ):
        # Paths relative to the repository, not to sync_server/, so an editor can open them.
        where = (
            (sources.relative_to(ROOT) / filename).as_posix()
            if sources.is_relative_to(ROOT)
            else filename
        )
        catalog.add(
            message,
            None,
            [(where, lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def _write(catalog: Catalog, path: Path, **options: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        # Files without line numbers: a line added above a string does not rewrite the
        # catalogues (fewer conflicts between people editing templates side by side).
        write_po(out, catalog, width=100, sort_output=True, include_lineno=False, **options)


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language)


def update(template: Catalog, language: str) -> Catalog:
    """The language's catalogue merged with ``template`` (new msgids empty, gone ones
    dropped, changed ones fuzzy with the old translation as a guess)."""
    path = po_path(language)
    if path.is_file():
        catalog = _read(path, language)
    else:
        catalog = Catalog(locale=language, project=PROJECT, charset="utf-8", fuzzy=False, **_HEADER)
    # No fuzzy guesses: a near msgid ("Cancel" for "Channel") is more often wrong than a
    # help, and an empty entry is what check reports.
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    for name, value in _HEADER.items():
        setattr(catalog, name, value)
    catalog.revision_date = datetime.now(UTC)
    return catalog


def _translated(message: Message) -> bool:
    if message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return all(s for s in strings)


@dataclass(frozen=True, slots=True)
class Missing:
    language: str
    msgid: str
    where: tuple[tuple[str, int], ...]
    fuzzy: bool
    # Translated, but not with the msgid's %(name)s values.
    wrong: bool = False

    def __str__(self) -> str:
        places = ", ".join(f"{f}:{n}" for f, n in self.where) or "?"
        why = "placeholders differ" if self.wrong else "fuzzy" if self.fuzzy else "untranslated"
        return f"{self.language}: {why}: {self.msgid!r} ({places})"


def missing(template: Catalog, languages: Iterable[str] = LANGUAGES) -> list[Missing]:
    """Every msgid of ``template`` that a language's .po does not translate (or only fuzzily,
    or with other %(name)s values than the msgid's)."""
    found: list[Missing] = []
    for language in languages:
        path = po_path(language)
        catalog = _read(path, language) if path.is_file() else Catalog(locale=language)
        for message in template:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            have = catalog.get(key, context=message.context)
            if have is None or not _translated(have):
                found.append(
                    Missing(
                        language,
                        key,
                        tuple(message.locations),
                        fuzzy=bool(have is not None and have.fuzzy),
                    )
                )
            elif not _same_placeholders(have):
                found.append(
                    Missing(language, key, tuple(message.locations), fuzzy=False, wrong=True)
                )
    return found


_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _same_placeholders(message: Message) -> bool:
    """Whether every form of the translation names the values its msgid names: a missing or
    misspelt %(name)s would fail the page (KeyError) or drop the value."""
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    wanted = set(_PLACEHOLDER.findall(ids[-1]))
    return all(set(_PLACEHOLDER.findall(text or "")) == wanted for text in strings)


# Text a page shows that needs no translation: the product's name, file formats, units.
_UNTRANSLATED_WORDS = {"hadir", "CSV", "JSON", "HRMS", "ERPNext", "Frappe", "ID", "UTC", "SVG"}
# Attributes whose value a reader sees or hears.
_SHOWN_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-confirm", "label")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_TRANS = re.compile(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", re.S)
_WORD = re.compile(r"[^\W\d_]{2,}")
# Where the text is not prose for a reader (code, commands), or not shown at all.
_NOT_PROSE = {"code", "script", "style", "pre", "kbd", "samp"}


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w not in _UNTRANSLATED_WORDS]


def _blank(match: re.Match[str]) -> str:
    # A Jinja tag prints a value (or nothing); its newlines stay, so lines keep their numbers.
    return "\x00" + "\n" * match.group(0).count("\n")


def _shown(text: str) -> str:
    """The text as a report quotes it: a printed value as "…", spaces folded."""
    return " ".join(text.replace("\x00", " … ").split())


@dataclass(frozen=True, slots=True)
class Unwrapped:
    template: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.template}:{self.line}: not in _(): {self.text!r}"


class _ShownText(HTMLParser):
    """The words of a page outside Jinja's tags: text and the attributes a reader sees."""

    def __init__(self, template: str) -> None:
        super().__init__(convert_charrefs=True)
        self.template = template
        self.found: list[Unwrapped] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _NOT_PROSE:
            self.hidden += 1
        for name, value in attrs:
            if name in _SHOWN_ATTRIBUTES and value and _words(value):
                self.found.append(Unwrapped(self.template, self.getpos()[0], _shown(value)))

    def handle_endtag(self, tag: str) -> None:
        if tag in _NOT_PROSE and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and _words(data):
            # getpos() is where the text starts: its leading newlines come first.
            line = self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n")
            self.found.append(Unwrapped(self.template, line, _shown(data)))


def unwrapped(templates: Path = SOURCES / "web" / "templates") -> list[Unwrapped]:
    """Words a template shows outside ``_()`` / ``{% trans %}``: text between tags and the
    attributes a reader sees (title, aria-label, placeholder, alt, data-confirm). Text in
    ``<code>``, ``<script>``, ``<style>`` is not prose; what a ``{{ }}`` prints is a value
    (a name, a number), not looked at."""
    found: list[Unwrapped] = []
    for path in sorted(templates.glob("*.html")):
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        source = path.read_text(encoding="utf-8")
        parser = _ShownText(name)
        parser.feed(_JINJA.sub(_blank, _TRANS.sub(_blank, source)))
        parser.close()
        found.extend(parser.found)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("extract", "update", "check", "unwrapped"))
    args = parser.parse_args(argv)
    if args.command == "unwrapped":
        texts = unwrapped()
        for text in texts:
            print(text)
        return 1 if texts else 0
    template = extract()
    if args.command == "extract":
        _write(template, POT, omit_header=False)
        print(f"{POT.relative_to(ROOT)}: {len(template)} messages")
        return 0
    if args.command == "update":
        if not POT.is_file():
            _write(template, POT)
        for language in LANGUAGES:
            merged = update(_read(POT), language)
            _write(merged, po_path(language), ignore_obsolete=True)
            left = missing(_read(POT), [language])
            where = po_path(language).relative_to(ROOT)
            print(f"{where}: {len(merged)} messages, {len(left)} to translate")
        return 0
    problems = missing(template)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} messages without a translation", file=sys.stderr)
        return 1
    print(f"every one of {len(template)} messages is translated into {', '.join(LANGUAGES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
