"""Liveness, readiness and Prometheus metrics (no credentials: keep them off the internet)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sync_server.db import head_revision, schema_revision
from sync_server.deps import Services, services
from sync_server.schemas import HealthStatus
from sync_server.terminal_metrics import terminal_metrics

router = APIRouter(tags=["health"])
ServicesDep = Annotated[Services, Depends(services)]


@router.get("/healthz", response_model=HealthStatus, summary="The process is alive")
def healthz() -> HealthStatus:
    # Deliberately touches nothing: a database outage must not get healthy processes restarted.
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    response_model=HealthStatus,
    summary="The database is reachable and its schema is current",
    responses={503: {"model": HealthStatus}},
)
def readyz(svc: ServicesDep) -> Response:
    try:
        with svc.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        revision = schema_revision(svc.db)
    except sa.exc.SQLAlchemyError as exc:
        body = HealthStatus(status="unavailable", detail=f"database: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    if revision != head_revision():
        body = HealthStatus(
            status="unavailable",
            detail=f"schema at {revision}, code needs {head_revision()} (hadir server migrate)",
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthStatus(status="ok").model_dump())


@router.get(
    "/metrics",
    summary="Prometheus metrics of this server process, and terminal health from the database",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
def metrics(svc: ServicesDep) -> Response:
    body = generate_latest(svc.metrics.registry) + terminal_metrics(svc.db)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
