"""``hadir edge doctor`` checks of the link to the server: reachable, token valid, clock offset.

The ``check_*`` functions take the whole :class:`~edge.config.EdgeConfig` (the
doctor's ``Check`` signature); the ``probe_*`` functions under them take the
``[sync]`` section and an optional httpx transport, for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx

from edge.checks import Check, CheckResult
from edge.clock import kernel_clock_synced, utc_now
from edge.config import EdgeConfig
from edge.errors import ConfigError
from edge.sync.client import SyncClient
from edge.sync.config import SyncConfig, tls_trust
from edge.sync.errors import AuthError, SyncError

CLOCK_OK_S = 2.0
"""A wall clock within this of the server's is fine."""
FUTURE_SKEW_S = 300.0
"""The server's default max_future_skew_s: a synchronised clock further ahead gets events
rejected as future_time."""

_DISABLED = "sync disabled (no sync.server_url): events stay on this terminal"


def _client(
    sync: SyncConfig,
    *,
    transport: httpx.BaseTransport | None,
    environ: Mapping[str, str] | None,
) -> SyncClient:
    return SyncClient.from_config(sync, transport=transport, environ=environ)


def probe_server(
    sync: SyncConfig | None,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckResult:
    """``GET /healthz`` as the daemon would reach it (same TLS trust), without the token:
    whether the network path works must not depend on the token file, which the
    ``server token`` line checks and names."""
    name = "server"
    if sync is None or sync.server_url is None:
        return CheckResult(name, False, _DISABLED, warning=True)
    url = sync.server_url.rstrip("/")
    try:
        verify = tls_trust(sync)
    except ConfigError as exc:
        return CheckResult(name, False, str(exc))
    try:
        with httpx.Client(
            base_url=url,
            timeout=httpx.Timeout(sync.timeout_s),
            transport=transport,
            verify=verify,
            follow_redirects=False,
        ) as http:
            started = time.perf_counter()
            response = http.get("/healthz")
            rtt = time.perf_counter() - started
    except httpx.HTTPError as exc:
        return CheckResult(name, False, f"{url} not reachable: {type(exc).__name__}: {exc}")
    if response.status_code != 200:
        return CheckResult(
            name, False, f"{url} answered /healthz with {response.status_code}: not a hadir server?"
        )
    return CheckResult(name, True, f"{url} reachable ({rtt * 1000:.0f} ms)")


def probe_token(
    sync: SyncConfig | None,
    device_id: str,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckResult:
    name = "server token"
    if sync is None or sync.server_url is None:
        return CheckResult(name, True, "skipped: sync disabled")
    try:
        with _client(sync, transport=transport, environ=environ) as client:
            identity = client.whoami()
    except ConfigError as exc:
        return CheckResult(name, False, str(exc))
    except AuthError as exc:
        return CheckResult(
            name,
            False,
            f"the server refused the token ({exc.status} {exc.reason or 'unauthorised'}): "
            "issue one with `hadir server add-terminal` and put it in sync.token_file",
        )
    except SyncError as exc:
        return CheckResult(name, False, f"cannot check the token: {exc}")
    if identity.id != device_id:
        return CheckResult(
            name,
            False,
            f"the token belongs to terminal {identity.id!r} but this terminal is "
            f"{device_id!r} (device.id): the server would refuse its events",
        )
    return CheckResult(
        name, True, f"valid for terminal {identity.id!r} in group {identity.group!r}"
    )


def probe_clock(
    sync: SyncConfig | None,
    *,
    transport: httpx.BaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = utc_now,
    clock_synced: Callable[[], bool] = kernel_clock_synced,
    perf: Callable[[], float] = time.perf_counter,
) -> CheckResult:
    """Offset of this wall clock to the server's, measured at the middle of one request."""
    name = "server clock"
    if sync is None or sync.server_url is None:
        return CheckResult(name, True, "skipped: sync disabled")
    try:
        with _client(sync, transport=transport, environ=environ) as client:
            before, started = now(), perf()
            identity = client.whoami()
            rtt = perf() - started
    except (ConfigError, SyncError) as exc:
        return CheckResult(name, False, f"cannot read the server clock: {exc}")
    offset = (before - identity.server_time).total_seconds() + rtt / 2
    synced = clock_synced()
    ntp = "synchronised" if synced else "NOT synchronised"
    text = (
        f"this clock is {abs(offset):.3f} s {'ahead of' if offset >= 0 else 'behind'} the "
        f"server's (round trip {rtt * 1000:.0f} ms; NTP {ntp})"
    )
    if abs(offset) <= max(CLOCK_OK_S, rtt):
        return CheckResult(name, True, text)
    if offset > FUTURE_SKEW_S and synced:
        return CheckResult(
            name,
            False,
            text + ": the server will reject events as future_time; fix the NTP source",
        )
    hint = (
        "events carry clock_synced=false and the server corrects them"
        if not synced
        else "check the NTP source of this terminal or of the server"
    )
    return CheckResult(name, False, f"{text}: {hint}", warning=True)


def check_server(config: EdgeConfig) -> CheckResult:
    """The sync server answers ``/healthz``."""
    return probe_server(config.sync)


def check_token(config: EdgeConfig) -> CheckResult:
    """The server accepts this terminal's token, and it belongs to this device id."""
    return probe_token(config.sync, config.device.id)


def check_server_clock(config: EdgeConfig) -> CheckResult:
    """This wall clock against the server's."""
    return probe_clock(config.sync)


SYNC_CHECKS: tuple[Check, ...] = (check_server, check_token, check_server_clock)
"""The sync lines of ``hadir edge doctor``, in the order it prints them."""

__all__ = [
    "SYNC_CHECKS",
    "check_server",
    "check_server_clock",
    "check_token",
    "probe_clock",
    "probe_server",
    "probe_token",
]
