"""Admin web: leave pages (issue 15; being written)."""

from __future__ import annotations

from sync_server.web.session import admin_router

router = admin_router()
