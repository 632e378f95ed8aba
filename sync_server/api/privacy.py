"""Admin API: privacy (issue 15; being written)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sync_server.deps import AdminRoute, admin
from sync_server.errors import error_responses

router = APIRouter(
    prefix="/admin",
    tags=["admin: privacy"],
    dependencies=[Depends(admin)],
    route_class=AdminRoute,
    responses=error_responses(401, 403, 404, 429),
)
