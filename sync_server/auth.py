"""Bearer credentials: a token per terminal, one admin token, and a bad-credential limit.

Terminal tokens are 256 random bits (``secrets.token_urlsafe(32)``), shown once at
creation and stored as their SHA-256. A slow password hash buys nothing for a
secret nobody can guess, and a fast one keeps the per-request lookup an index
probe. The admin token comes from the config (see ``resolve_admin_token``) and is
compared in constant time.

401 means "who are you?" (no, malformed or unknown credential); 403 means "you
are known but may not do this" (a terminal on an admin endpoint, the admin on a
terminal endpoint, a revoked terminal, a terminal speaking for another).

A valid credential is always accepted: it is checked before the limit is looked at,
so a neighbour behind the same NAT, or a proxy without ``trusted_proxies``, cannot
lock anyone out. Bad credentials are counted by :class:`FailureLimiter` in the
database (every server process sees the same counts) against the credential itself
(its hash, never the token) and against the client address, the latter once per
different credential: a terminal retrying a stale token is slowed on that token
alone, an address guessing many tokens is slowed as a whole. Past the limit a bad
credential gets 429 instead of 401 until its window ends.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
import structlog
from fastapi import Request

from edge.clock import utc_now
from sync_server.config import AuthConfig
from sync_server.db import Database, UTCDateTime, auth_failures, terminals
from sync_server.errors import ApiError
from sync_server.metrics import Metrics

log = structlog.get_logger(__name__)

_CHALLENGE = 'Bearer realm="hadir"'
# auth_failures.client holds a key of at most 64 characters: a kind, then the address or
# the leading hex digits of a SHA-256 (240 bits: no two secrets share a row by chance).
_KEY_CHARS = 64
_ADDRESS_PREFIX = "ip:"
_CREDENTIAL_PREFIX = "cred:"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def address_key(client: str) -> str:
    return (_ADDRESS_PREFIX + client)[:_KEY_CHARS]


def credential_key(secret: str) -> str:
    """The row that counts one presented credential: a hash, never the secret itself."""
    return (_CREDENTIAL_PREFIX + hash_token(secret))[:_KEY_CHARS]


@dataclass(frozen=True, slots=True)
class Terminal:
    """The terminal a request authenticated as."""

    id: str
    group: str
    reset_below: int


class FailureLimiter:
    """Counts bad credentials per credential and per address in ``auth_failures``.

    Each count is one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (fixed window),
    so concurrent failures, in one process or many, can never read the same count: a
    burst gets exactly ``max_failures`` answers before the rest are refused.
    """

    def __init__(
        self,
        db: Database,
        config: AuthConfig,
        *,
        now: Callable[[], datetime] = utc_now,
        sweep_chance: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._max = config.max_failures
        self._window = timedelta(seconds=config.failure_window_s)
        self._now = now
        self._sweep_chance = sweep_chance

    def record(self, client: str, credential: str, *, now: datetime | None = None) -> int | None:
        """Count one bad credential from ``client``; seconds to wait when over the limit."""
        with self._db.write() as conn:
            return self.record_in(conn, client, credential, now=now)

    def record_in(
        self, conn: sa.Connection, client: str, credential: str, *, now: datetime | None = None
    ) -> int | None:
        """:meth:`record` inside the caller's write transaction."""
        now = now or self._now()
        failures, start = self._count(conn, credential_key(credential), now)
        wait = self._over(failures, start, now)
        if failures == 1:
            # A credential not seen in this window: one more guess from this address.
            failures, start = self._count(conn, address_key(client), now)
            wait = self._over(failures, start, now)
        # Occasional sweep keeps the table as small as the set of recent offenders.
        if self._sweep_chance() < 0.05:
            conn.execute(
                sa.delete(auth_failures).where(
                    auth_failures.c.window_start <= sa.literal(now - self._window, UTCDateTime)
                )
            )
        return wait

    def _count(self, conn: sa.Connection, key: str, now: datetime) -> tuple[int, datetime]:
        table = auth_failures
        expired = table.c.window_start <= sa.literal(now - self._window, UTCDateTime)
        stmt = (
            self._db.insert(table)
            .values(client=key, window_start=now, failures=1)
            .on_conflict_do_update(
                index_elements=[table.c.client],
                set_={
                    "failures": sa.case((expired, 1), else_=table.c.failures + 1),
                    "window_start": sa.case(
                        (expired, sa.literal(now, UTCDateTime)), else_=table.c.window_start
                    ),
                },
            )
            .returning(table.c.failures, table.c.window_start)
        )
        row = conn.execute(stmt).one()
        return int(row.failures), row.window_start

    def _over(self, failures: int, start: datetime, now: datetime) -> int | None:
        if failures <= self._max:
            return None
        return max(1, int((start + self._window - now).total_seconds()) + 1)


class Authenticator:
    def __init__(
        self, db: Database, admin_token: str | None, config: AuthConfig, metrics: Metrics
    ) -> None:
        self._db = db
        self._admin_token = admin_token.encode("utf-8") if admin_token else None
        self._metrics = metrics
        self.limiter = FailureLimiter(db, config)

    # --- dependencies ---------------------------------------------------------------------

    def terminal(self, request: Request) -> Terminal:
        """Authenticate a terminal endpoint request."""
        token, client = self._credential(request)
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(
                    terminals.c.id,
                    terminals.c.group_name,
                    terminals.c.revoked_at,
                    terminals.c.reset_below,
                ).where(terminals.c.token_hash == hash_token(token))
            ).first()
        if row is not None:
            if row.revoked_at is not None:
                self._metrics.auth_failures.labels("revoked").inc()
                raise ApiError(403, "terminal_revoked", f"terminal {row.id} has been revoked")
            return Terminal(row.id, row.group_name, int(row.reset_below))
        if self._is_admin(token):
            self._metrics.auth_failures.labels("wrong_role").inc()
            raise ApiError(403, "terminal_only", "this endpoint is for terminals, not the admin")
        self._failed(client, token, "unknown token")

    def admin(self, request: Request) -> None:
        """Authenticate an admin endpoint request."""
        token, client = self._credential(request)
        if self._is_admin(token):
            return
        with self._db.read() as conn:
            is_terminal = conn.execute(
                sa.select(terminals.c.id).where(terminals.c.token_hash == hash_token(token))
            ).first()
        if is_terminal is not None:
            self._metrics.auth_failures.labels("wrong_role").inc()
            raise ApiError(403, "admin_only", "this endpoint needs the admin credential")
        self._failed(client, token, "unknown token")

    # --- internals -------------------------------------------------------------------------

    def _credential(self, request: Request) -> tuple[str, str]:
        client = client_address(request)
        header = request.headers.get("authorization")
        if header is None:
            self._metrics.auth_failures.labels("missing").inc()
            raise ApiError(
                401,
                "missing_credentials",
                "send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": _CHALLENGE},
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            # Counted like a wrong token: the header as a whole is what was presented.
            self._failed(client, header, "malformed Authorization header")
        return token, client

    def _is_admin(self, token: str) -> bool:
        return self._admin_token is not None and hmac.compare_digest(
            token.encode("utf-8"), self._admin_token
        )

    def _failed(self, client: str, credential: str, why: str) -> NoReturn:
        wait = self.limiter.record(client, credential)
        log.warning("bad_credentials", client=client, why=why, limited=wait is not None)
        if wait is not None:
            self._metrics.auth_failures.labels("blocked").inc()
            raise ApiError(
                429,
                "too_many_failures",
                "too many bad credentials; try again later",
                headers={"Retry-After": str(wait)},
            )
        self._metrics.auth_failures.labels("invalid").inc()
        raise ApiError(
            401,
            "invalid_token",
            "the credential is not valid",
            headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'},
        )


def client_address(request: Request) -> str:
    # uvicorn has already replaced this with X-Forwarded-For when the peer is a trusted proxy.
    client = request.client
    return (client.host if client else "unknown")[:64]
