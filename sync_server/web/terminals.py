"""The terminals page: health at a glance, register a terminal, revoke, issue a new token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from edge.clock import utc_now
from sync_server import terminals
from sync_server.db import current_version
from sync_server.db import terminals as terminals_table
from sync_server.deps import Services, services
from sync_server.domain_errors import DomainError
from sync_server.errors import ApiError, http_status
from sync_server.schemas import TerminalCreate
from sync_server.web.forms import field_problems, text
from sync_server.web.render import PREFIX, Page, redirect, render
from sync_server.web.session import admin_router, load_page, load_post

log = structlog.get_logger(__name__)

router = admin_router()


def _terminal_rows(svc: Services) -> tuple[list[dict[str, Any]], int]:
    now = utc_now()
    offline_after = svc.settings.web.offline_after_s
    with svc.db.read() as conn:
        rows = conn.execute(terminals.terminal_query().order_by(terminals_table.c.id)).all()
        server_version = current_version(conn)
    out = []
    for row in rows:
        info = terminals.terminal_info(row)
        hb = info["heartbeat"]
        seen = info["last_seen_at"]
        age = (now - seen).total_seconds() if seen is not None else None
        if info["revoked_at"] is not None:
            state = "revoked"
        elif age is None:
            state = "never seen"
        elif age <= offline_after:
            state = "online"
        else:
            state = "offline"
        out.append({**info, "state": state, "age_s": age, "hb": hb})
    return out, server_version


async def _terminals_page(
    request: Request,
    page: Page,
    *,
    status: int = 200,
    problem: str | None = None,
    values: Mapping[str, str] | None = None,
) -> HTMLResponse:
    rows, server_version = await run_in_threadpool(_terminal_rows, services(request))
    return render(
        page,
        "terminals.html",
        status=status,
        terminals=rows,
        server_version=server_version,
        problem=problem,
        values=values or {"group": "default"},
    )


@router.get("/terminals")
async def terminals_page(request: Request) -> Response:
    return await _terminals_page(request, await load_page(request))


@router.post("/terminals")
async def create_terminal(request: Request) -> Response:
    session, form, page = await load_post(request)
    values = {k: text(form, k) for k in ("id", "group", "description")}
    try:
        body = TerminalCreate(
            id=values["id"], group=values["group"], description=values["description"]
        )
        created = await run_in_threadpool(terminals.create_terminal, services(request).db, body)
    except ValidationError as exc:
        return await _terminals_page(
            request, page, status=422, problem=field_problems(exc), values=values
        )
    except (ApiError, DomainError) as exc:
        return await _terminals_page(
            request, page, status=http_status(exc), problem=str(exc.detail), values=values
        )
    log.info("web_terminal_created", username=session.username, terminal_id=body.id)
    return render(page, "terminal_token.html", terminal=created, rotated=False)


@router.post("/terminals/{terminal_id}/revoke")
async def revoke_terminal(request: Request, terminal_id: str) -> Response:
    session, _form_data, page = await load_post(request)
    try:
        await run_in_threadpool(terminals.revoke_terminal, services(request).db, terminal_id)
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info("web_terminal_revoked", username=session.username, terminal_id=terminal_id)
    return redirect(f"{PREFIX}/terminals")


@router.post("/terminals/{terminal_id}/token")
async def rotate_token(request: Request, terminal_id: str) -> Response:
    session, _form_data, page = await load_post(request)
    try:
        created = await run_in_threadpool(
            terminals.rotate_token, services(request).db, terminal_id
        )
    except (ApiError, DomainError) as exc:
        return render(page, "error.html", status=http_status(exc), problem=str(exc.detail))
    log.info("web_terminal_token", username=session.username, terminal_id=terminal_id)
    return render(page, "terminal_token.html", terminal=created, rotated=True)
