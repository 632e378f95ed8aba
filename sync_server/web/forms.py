"""Reading what the browser sent: posted forms and query parameters."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from sync_server.errors import ApiError

MAX_PHOTOS = 20


async def read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=MAX_PHOTOS, max_fields=20)
    except ApiError:
        raise  # the request limits' own answers: 413 too large, 408 too slow
    except Exception as exc:  # starlette raises its own MultiPartException and friends
        raise ApiError(400, "bad_form", f"the form could not be read ({exc})") from exc


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def field_problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "form"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def filters(request: Request) -> tuple[str | None, str | None]:
    group = request.query_params.get("group") or None
    department = request.query_params.get("department") or None
    return group, department


def date_param(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(422, "bad_date", f"{name}: {raw!r} is not a date (YYYY-MM-DD)") from exc


def month_param(request: Request, default: date) -> date:
    raw = request.query_params.get("month")
    if not raw:
        return default.replace(day=1)
    try:
        return datetime.strptime(raw, "%Y-%m").date()
    except ValueError as exc:
        raise ApiError(422, "bad_month", f"month: {raw!r} is not a month (YYYY-MM)") from exc
