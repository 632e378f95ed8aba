"""The FastAPI application, built by :func:`create_app` from a :class:`ServerConfig`.

The app keeps no state that matters between requests: everything shared lives in
the database, so any number of processes may serve one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from edge import __version__
from edge.clock import utc_now
from edge.logs import configure_logging
from edge.protocol import API_PREFIX
from sync_server import retention
from sync_server.api import (
    admin_events,
    admin_people,
    admin_terminals,
    calendar,
    corrections,
    health,
    leave,
    privacy,
    shifts,
    terminal,
)
from sync_server.api import reports as admin_reports
from sync_server.auth import Authenticator
from sync_server.config import ServerConfig, resolve_admin_token
from sync_server.db import Database, migrate, normalise_url
from sync_server.deps import Services
from sync_server.domain_errors import DomainError
from sync_server.enrolment import Enroller
from sync_server.errors import (
    document_error_shapes,
    domain_error_handler,
    http_error_handler,
    validation_error_handler,
)
from sync_server.ingest import prune_expired
from sync_server.limits import BodyLimitMiddleware, BodyTimeoutMiddleware, path_matcher
from sync_server.metrics import LatencyMiddleware, Metrics
from sync_server.reports import person_days

log = structlog.get_logger(__name__)

# How run_server hands the settings to worker processes it does not create itself.
SETTINGS_ENV = "_HADIR_SERVER_SETTINGS_JSON"
PRUNE_INTERVAL_S = 3600.0
# Folded days of people whose shift changed are rebuilt this often (reports stay right, and
# are only slower for them, meanwhile).
FOLD_INTERVAL_S = 60.0

_DESCRIPTION = """
Central server of hadir: terminals push attendance events and heartbeats and pull
enrolment changes; admins manage terminals and people. Terminal endpoints take the
terminal's own bearer token, `/admin` endpoints the admin token. See docs/protocol.md.
"""


def create_app(settings: ServerConfig, *, environ: Mapping[str, str] | None = None) -> FastAPI:
    """Build the app. The database schema is brought up to date at start-up (lifespan)."""
    admin_token = resolve_admin_token(settings, environ)
    normalise_url(settings.database_url)  # fail on a bad URL now, not on the first request
    db = Database.from_url(settings.database_url, pool_size=settings.db_pool_size)
    metrics = Metrics()
    enroller = Enroller(
        settings.recognition, settings.enrolment_workers, jitters=settings.enrolment_jitters
    )
    svc = Services(
        settings=settings,
        db=db,
        auth=Authenticator(db, admin_token, settings.auth, metrics),
        metrics=metrics,
        enroller=enroller,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(migrate, db)
        if admin_token is None:
            log.warning(
                "no_admin_token",
                detail="admin endpoints refuse every request; set HADIR_ADMIN_TOKEN, "
                "admin_token_file or the systemd credential admin_token",
            )
        log.info("server_ready", version=__version__, database=db.engine.url.render_as_string())
        # Once before serving, so a restart always applies the retention; then hourly.
        await _prune(db, settings)
        pruning = asyncio.create_task(_prune_forever(db, settings))
        folding = asyncio.create_task(_fold_days_forever(db, settings))
        try:
            yield
        finally:
            pruning.cancel()
            folding.cancel()
            enroller.close()
            db.dispose()
            # uvicorn's own "shutdown complete" is INFO of a library: not logged (edge/logs.py).
            log.info("server_stopped")

    app = FastAPI(
        title="hadir sync server",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = svc
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_error_shapes(generate_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for router in (
        terminal.router,
        admin_terminals.router,
        admin_people.router,
        admin_events.router,
        admin_reports.router,
        shifts.router,
        calendar.router,
        leave.router,
        corrections.router,
        privacy.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    if settings.web.enabled:
        from sync_server.web.app import mount

        mount(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_json_body_bytes,
        large_limit=settings.max_body_bytes,
        # Photo uploads: the API's, and the admin web's enrol and add-photos forms.
        large_paths=path_matcher(
            rf"{API_PREFIX}/admin/people/[^/]+/photos", r"/admin/people(/[^/]+/photos)?"
        ),
    )
    # A body trickling in slower than this holds a connection: cut it (408, then close).
    app.add_middleware(BodyTimeoutMiddleware, timeout_s=settings.listen.body_timeout_s)
    # Outermost, so refused bodies and errors are timed too.
    app.add_middleware(LatencyMiddleware, metrics=metrics)
    return app


async def _prune(db: Database, settings: ServerConfig) -> None:
    """Retention: clock references and rejected events (``retention_days``), attendance and
    audit rows (``[retention]``, sync_server/retention.py). Every process does it; deleting
    what another process already deleted is harmless. One log line per run, with counts."""
    now = utc_now()
    try:
        refs, refused = await run_in_threadpool(prune_expired, db, now, settings.retention_days)
        pruned = await run_in_threadpool(
            partial(
                retention.apply,
                db,
                settings.retention,
                now=now,
                zone=ZoneInfo(settings.site_timezone),
            )
        )
    except Exception as exc:  # a database hiccup must not stop the server or later prunes
        log.warning("prune_failed", error=str(exc))
    else:
        log.info(
            "pruned",
            clock_refs=refs,
            rejected_events=refused,
            events=pruned.events,
            corrections=pruned.corrections,
            leaves=pruned.leaves,
            audit=pruned.audit,
            days=settings.retention_days,
            events_days=settings.retention.events_days,
            audit_days=settings.retention.audit_days,
        )


async def _prune_forever(db: Database, settings: ServerConfig) -> None:
    while True:
        await asyncio.sleep(PRUNE_INTERVAL_S)
        await _prune(db, settings)


async def _fold_days_forever(db: Database, settings: ServerConfig) -> None:
    """The reports' folded days (sync_server/reports/person_days.py): at start, then every
    FOLD_INTERVAL_S, fold the people whose shift or site zone changed (everyone, the first
    time). Until then the reports sort those people's events themselves: slower, not wrong."""
    zone = ZoneInfo(settings.site_timezone)
    while True:
        try:
            folded = await run_in_threadpool(
                partial(person_days.catch_up, db, zone, now=utc_now())
            )
        except Exception as exc:  # a database hiccup must not stop the server or later runs
            log.warning("fold_days_failed", error=str(exc))
        else:
            if folded:
                log.info("days_folded", people=folded, zone=zone.key)
        await asyncio.sleep(FOLD_INTERVAL_S)


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn worker processes: settings come from :data:`SETTINGS_ENV`."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"{SETTINGS_ENV} is not set; start the server with hadir server run")
    settings = ServerConfig.model_validate(json.loads(raw))
    # A spawned worker starts with a fresh interpreter: logging is set up again here.
    configure_logging(settings.logging.level, settings.logging.format)
    return create_app(settings)


def settings_json(settings: ServerConfig) -> str:
    data = settings.model_dump(mode="json")
    if settings.admin_token is not None:
        data["admin_token"] = settings.admin_token.get_secret_value()
    if settings.hrms.api_secret is not None:
        data["hrms"]["api_secret"] = settings.hrms.api_secret.get_secret_value()
    return json.dumps(data)
