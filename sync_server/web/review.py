"""The Needs review page: events whose liveness check failed, and marking them reviewed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from edge.clock import utc_now
from sync_server import review
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.web.forms import date_param, text
from sync_server.web.i18n import N_
from sync_server.web.render import LIST_LIMIT, PREFIX, redirect, render, safe_next
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

router = admin_router()

NO_EVENT = N_("no event %(event)s")


def _review_rows(
    svc: Services,
    include_reviewed: bool,
    device_id: str | None,
    first: date | None,
    last: date | None,
) -> list[Any]:
    tz = svc.site_zone
    # Whole days on the site's wall clock, as the reports count them.
    start = None if first is None else datetime.combine(first, time(), tz)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tz)
    query = review.review_query(
        include_reviewed=include_reviewed,
        device_id=device_id,
        start=start,
        end=end,
        limit=LIST_LIMIT,
    )
    with svc.db.read() as conn:
        return [review.review_item(r._mapping) for r in conn.execute(query)]


@router.get("/review")
async def review_page(request: Request) -> Response:
    page = await load_page(request)
    params = request.query_params
    include_reviewed = params.get("reviewed") == "1"
    terminal = params.get("terminal", "").strip() or None
    try:
        first = date_param(request, "from", date.min) if params.get("from") else None
        last = date_param(request, "to", date.min) if params.get("to") else None
    except ApiError as exc:
        return render(page, "error.html", status=422, problem=str(exc.detail))
    items = await run_in_threadpool(
        _review_rows, services(request), include_reviewed, terminal, first, last
    )
    return render(
        page,
        "review.html",
        items=items,
        include_reviewed=include_reviewed,
        terminal=terminal or "",
        first=first.isoformat() if first else "",
        last=last.isoformat() if last else "",
        marked=params.get("marked", ""),
        limit=LIST_LIMIT,
    )


@router.post("/review/{event_id}")
async def mark_reviewed(request: Request, event_id: str) -> Response:
    session, form, page = await load_post(request)
    try:
        found = UUID(event_id)
    except ValueError:
        problem = page.lang.gettext(NO_EVENT, event=repr(event_id))
        return render(page, "error.html", status=404, problem=problem)
    try:
        await run_in_threadpool(
            review.mark_reviewed, services(request).db, found, session.username, utc_now()
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info("web_event_reviewed", username=session.username, event_id=str(found))
    back = safe_next(text(form, "next") or f"{PREFIX}/review")
    return redirect(f"{back}{'&' if '?' in back else '?'}marked={found}")
