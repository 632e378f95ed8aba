"""Bearer credentials: a token per terminal, one admin token, and a bad-credential limit.

Terminal tokens are 256 random bits (``secrets.token_urlsafe(32)``), shown once at
creation and stored as their SHA-256. A slow password hash buys nothing for a
secret nobody can guess, and a fast one keeps the per-request lookup an index
probe. The admin token comes from the config (see ``resolve_admin_token``) and is
compared in constant time.

401 means "who are you?" (no, malformed or unknown credential); 403 means "you
are known but may not do this" (a terminal on an admin endpoint, the admin on a
terminal endpoint, a revoked terminal, a terminal speaking for another). Unknown
credentials are counted per client address in the database, so every server
process sees the same count; past the limit a client gets 429 until its window
ends, whatever it presents.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
import structlog
from fastapi import Request

from sync_server.config import AuthConfig
from sync_server.db import Database, UTCDateTime, auth_failures, terminals, utcnow
from sync_server.errors import ApiError
from sync_server.metrics import Metrics

log = structlog.get_logger("hadir.server.auth")

_CHALLENGE = 'Bearer realm="hadir"'


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Terminal:
    """The terminal a request authenticated as."""

    id: str
    group: str
    reset_below: int


class Authenticator:
    def __init__(
        self, db: Database, admin_token: str | None, config: AuthConfig, metrics: Metrics
    ) -> None:
        self._db = db
        self._admin_token = admin_token.encode("utf-8") if admin_token else None
        self._config = config
        self._metrics = metrics
        self._window = timedelta(seconds=config.failure_window_s)

    # --- dependencies ---------------------------------------------------------------------

    def terminal(self, request: Request) -> Terminal:
        """Authenticate a terminal endpoint request."""
        token, client = self._credential(request)
        token_hash = hash_token(token)
        with self._db.read() as conn:
            self._refuse_if_blocked(conn, client)
            row = conn.execute(
                sa.select(
                    terminals.c.id,
                    terminals.c.group_name,
                    terminals.c.revoked_at,
                    terminals.c.reset_below,
                ).where(terminals.c.token_hash == token_hash)
            ).first()
        if row is not None:
            if row.revoked_at is not None:
                self._metrics.auth_failures.labels("revoked").inc()
                raise ApiError(403, "terminal_revoked", f"terminal {row.id} has been revoked")
            return Terminal(row.id, row.group_name, int(row.reset_below))
        if self._is_admin(token):
            self._metrics.auth_failures.labels("wrong_role").inc()
            raise ApiError(403, "terminal_only", "this endpoint is for terminals, not the admin")
        self._failed(client, "unknown token")

    def admin(self, request: Request) -> None:
        """Authenticate an admin endpoint request."""
        token, client = self._credential(request)
        with self._db.read() as conn:
            self._refuse_if_blocked(conn, client)
            if self._is_admin(token):
                return
            is_terminal = conn.execute(
                sa.select(terminals.c.id).where(terminals.c.token_hash == hash_token(token))
            ).first()
        if is_terminal is not None:
            self._metrics.auth_failures.labels("wrong_role").inc()
            raise ApiError(403, "admin_only", "this endpoint needs the admin credential")
        self._failed(client, "unknown token")

    def refuse_if_blocked(self, client: str) -> None:
        """429 (ApiError) while a client address is over the bad-credential limit."""
        with self._db.read() as conn:
            self._refuse_if_blocked(conn, client)

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
            self._failed(client, "malformed Authorization header")
        return token, client

    def _is_admin(self, token: str) -> bool:
        return self._admin_token is not None and hmac.compare_digest(
            token.encode("utf-8"), self._admin_token
        )

    def _refuse_if_blocked(self, conn: sa.Connection, client: str) -> None:
        row = conn.execute(
            sa.select(auth_failures.c.window_start, auth_failures.c.failures).where(
                auth_failures.c.client == client
            )
        ).first()
        if row is None or row.failures < self._config.max_failures:
            return
        ends = row.window_start + self._window
        now = utcnow()
        if ends <= now:
            return
        self._metrics.auth_failures.labels("blocked").inc()
        raise ApiError(
            429,
            "too_many_failures",
            "too many bad credentials from this address; try again later",
            headers={"Retry-After": str(max(1, int((ends - now).total_seconds()) + 1))},
        )

    def _failed(self, client: str, why: str) -> NoReturn:
        self._metrics.auth_failures.labels("invalid").inc()
        log.warning("bad_credentials", client=client, why=why)
        self.record_failure(client)
        raise ApiError(
            401,
            "invalid_token",
            "the credential is not valid",
            headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'},
        )

    def record_failure(self, client: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        cutoff = now - self._window
        table = auth_failures
        expired = table.c.window_start <= sa.literal(cutoff, UTCDateTime)
        stmt = self._db.insert(table).values(client=client, window_start=now, failures=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.client],
            set_={
                "failures": sa.case((expired, 1), else_=table.c.failures + 1),
                "window_start": sa.case(
                    (expired, sa.literal(now, UTCDateTime)), else_=table.c.window_start
                ),
            },
        )
        with self._db.write() as conn:
            conn.execute(stmt)
            # Occasional sweep keeps the table as small as the set of recent offenders.
            if random.random() < 0.05:
                conn.execute(sa.delete(table).where(expired))


def client_address(request: Request) -> str:
    # uvicorn has already replaced this with X-Forwarded-For when the peer is a trusted proxy.
    client = request.client
    return (client.host if client else "unknown")[:64]
