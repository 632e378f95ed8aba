"""Files the server hands out as downloads, as HTTP responses: one place for the API's and the
admin web's alike (the web may not import the API, tests/web/test_layout.py).

A download's words are in a language chosen per request, so the response says which
(``Content-Language``) and what chose it (``Vary``), for a cache between the server and the
reader not to hand one reader's language to another.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

from fastapi.responses import StreamingResponse

from sync_server.db import Database
from sync_server.reports.export import CsvRows, export_stream

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
AUDIT_CSV_NAME = "hadir-audit.csv"
# The admin web's downloads: the language may be the account's, found through the session cookie.
WEB_CSV_VARY = "Accept-Language, Cookie"


def csv_download(
    chunks: Iterator[str], filename: str, *, locale: str, vary: str
) -> StreamingResponse:
    """A streamed CSV saved as ``filename``, in ``locale``'s words; ``vary`` names the request
    headers that chose the language (the ``lang`` parameter is in the URL already)."""
    return StreamingResponse(
        chunks,
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Language": locale,
            "Vary": vary,
        },
    )


def attendance_csv(
    db: Database,
    first: date,
    last: date,
    *,
    tz: ZoneInfo,
    rows: CsvRows,
    group: str | None,
    department: str | None,
    locale: str,
    vary: str,
) -> StreamingResponse:
    """The attendance export (:func:`sync_server.reports.export.export_stream`) of
    ``first..last`` as ``attendance-<rows>-<first>-<last>.csv``, streamed."""
    stream = export_stream(
        db, first, last, tz=tz, rows=rows, group=group, department=department, locale=locale
    )
    name = f"attendance-{rows.value}-{first.isoformat()}-{last.isoformat()}.csv"
    return csv_download(stream, name, locale=locale, vary=vary)
