"""The terminals page marks a terminal that cannot save attendance (heartbeat store_state)."""

from __future__ import annotations

import re

from tests.server.helpers import heartbeat
from tests.web.conftest import Web


def _row(listing: str, terminal: str) -> str:
    found = re.search(rf'<tr data-terminal="{terminal}".*?</tr>', listing, re.S)
    assert found is not None, listing
    return found.group(0)


def test_a_terminal_that_cannot_save_is_marked_unhealthy(web: Web) -> None:
    failing = web.api.create_terminal("door-1")
    healthy = web.api.create_terminal("door-2")
    old = web.api.create_terminal("door-3")
    error = "StoreReadOnlyError: record an event: /var/lib/hadir/hadir-edge.sqlite3: read-only"
    for token, beat in (
        (failing, heartbeat("door-1", store_state="error", store_errors=4, store_last_error=error)),
        (healthy, heartbeat("door-2", store_state="ok", store_errors=0)),
        (old, heartbeat("door-3")),
    ):
        assert web.api.as_terminal(token, "POST", "/heartbeat", json=beat).status_code == 200
    listing = web.get("/admin/terminals").text

    bad = _row(listing, "door-1")
    assert 'data-state="online" data-store="error" class="unhealthy"' in bad
    assert '<span class="badge unhealthy">cannot save</span>' in bad
    assert "4 failed writes" in bad
    assert error in bad

    good = _row(listing, "door-2")
    assert 'data-store="ok"' in good
    assert "unhealthy" not in good
    assert '<td class="store">ok</td>' in good

    unknown = _row(listing, "door-3")
    assert 'data-store="unknown"' in unknown
    assert "unhealthy" not in unknown
    assert "not reported" in unknown
