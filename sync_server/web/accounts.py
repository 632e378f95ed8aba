"""Admin accounts and browser sessions of the admin web.

Passwords are hashed with scrypt (memory-hard, in the standard library). A wrong
password counts against the account; at ``max_login_failures`` in a row the account
is locked for ``lockout_minutes``, whatever password comes next. Failed logins are
also counted like bad API credentials (per login name, and per client address once
for each name it tries), which slows one address trying many accounts; a right
password is never refused for that.

Nothing in the answer to a wrong password, or in its time, tells an account from an
unknown name: both cost one scrypt check, both get the same words, and a locked
account says so only to the right password (whoever knows it knows the account).

A session is a random 256-bit cookie value; the database holds its SHA-256, the
account, a CSRF token for the forms of that session, and its idle and absolute
expiry. Nothing lives in process memory: any server process can answer any request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog

from edge.clock import utc_now
from edge.errors import HadirError
from edge.wording import plural
from sync_server import audit
from sync_server.auth import FailureLimiter
from sync_server.config import WebConfig
from sync_server.db import Database, admin_accounts, web_sessions

log = structlog.get_logger(__name__)

# scrypt cost: 2**14 x 8 x 128 bytes = 16 MiB and about 50 ms per check on a small server,
# the parameters OWASP lists for scrypt.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
MIN_PASSWORD_CHARS = 10
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
# Failed logins are counted per name in the bad-credential table under this prefix.
_LOGIN_CREDENTIAL = "admin-login:"
# last_seen_at is written at most this often per session, not on every page view.
_TOUCH_EVERY = timedelta(seconds=60)
# The actor of the audit rows of accounts made or reset with ``hadir server add-admin`` on
# the server itself (no web account or admin token is involved; no username has a space).
SERVER_CLI_ACTOR = "server command line"


class AccountError(HadirError, ValueError):
    """A bad username or password given to the account commands."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=64 * 1024 * 1024,
        dklen=_SCRYPT_LEN,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=64 * 1024 * 1024,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Checked when the username is unknown, so both answers cost one scrypt run. No password
# hashes to an all-zero digest, and a constant costs nothing at import or on first use (a
# hash made on first use made the first unknown name after a start cost two runs).
_DUMMY_HASH = (
    f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(bytes(16))}${_b64(bytes(_SCRYPT_LEN))}"
)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if password != password.strip():
        raise AccountError("the password must not start or end with whitespace")


def set_account(
    db: Database,
    username: str,
    password: str,
    *,
    reset: bool = False,
    actor: str = SERVER_CLI_ACTOR,
) -> bool:
    """Create an account, or with ``reset`` replace an existing one's password.

    Resetting also unlocks the account and ends its sessions. Returns True when created.
    Either writes an audit row (entity ``account``) saying that the password was set or
    changed, never the password or its hash.
    """
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise AccountError(
            f"username {username!r}: letters, digits and . _ @ - only, at most 64 characters"
        )
    check_new_password(password)
    hashed = hash_password(password)
    now = utc_now()
    with db.write() as conn:
        exists = conn.execute(
            sa.select(admin_accounts.c.username).where(admin_accounts.c.username == username)
        ).first()
        if exists is None:
            conn.execute(
                sa.insert(admin_accounts).values(
                    username=username,
                    password_hash=hashed,
                    created_at=now,
                    password_changed_at=now,
                    failed_logins=0,
                    locked_until=None,
                    last_login_at=None,
                )
            )
            audit.record(
                conn,
                actor=actor,
                action="create",
                entity="account",
                entity_id=username,
                now=now,
                after={"username": username, "password": "set"},
            )
            return True
        if not reset:
            raise AccountError(f"admin {username!r} already exists (use --reset to change it)")
        conn.execute(
            sa.update(admin_accounts)
            .where(admin_accounts.c.username == username)
            .values(
                password_hash=hashed, password_changed_at=now, failed_logins=0, locked_until=None
            )
        )
        conn.execute(sa.delete(web_sessions).where(web_sessions.c.username == username))
        audit.record(
            conn,
            actor=actor,
            action="update",
            entity="account",
            entity_id=username,
            now=now,
            after={"password": "changed", "unlocked": True, "sessions": "ended"},
        )
        return False


def set_locale(
    db: Database, username: str, locale: str | None, *, now: datetime | None = None
) -> bool:
    """Store an account's language of the admin web (None: the browser's), with an audit
    row by the account itself. Returns False when it was already that language."""
    now = now or utc_now()
    with db.write() as conn:
        before = conn.execute(
            sa.select(admin_accounts.c.locale).where(admin_accounts.c.username == username)
        ).first()
        if before is None:
            raise AccountError(f"no admin account {username!r}")
        if before.locale == locale:
            return False
        conn.execute(
            sa.update(admin_accounts)
            .where(admin_accounts.c.username == username)
            .values(locale=locale)
        )
        audit.record(
            conn,
            actor=username,
            action="update",
            entity="account",
            entity_id=username,
            now=now,
            before={"locale": before.locale},
            after={"locale": locale},
        )
    log.info("admin_locale_set", username=username, locale=locale)
    return True


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """``username`` is set on success; otherwise ``problem`` says why (in English, for logs
    and tests), ``reason`` which of the three refusals it is (``locked``: the account,
    ``limited``: too many failures, ``wrong``), and ``minutes`` how long to wait, so the
    login page can say it in the reader's language."""

    username: str | None
    problem: str | None = None
    locked: bool = False
    reason: str = ""
    minutes: int = 0


def _minutes(delta: timedelta) -> int:
    return max(1, int(-(-delta.total_seconds() // 60)))


def check_login(
    db: Database,
    username: str,
    password: str,
    config: WebConfig,
    *,
    limiter: FailureLimiter | None = None,
    client: str = "unknown",
    now: datetime | None = None,
) -> LoginOutcome:
    """Check a username and password, counting failures and applying the lockout."""
    now = now or utc_now()
    with db.read() as conn:
        row = conn.execute(
            sa.select(admin_accounts.c.password_hash, admin_accounts.c.locked_until).where(
                admin_accounts.c.username == username
            )
        ).first()
    # One scrypt check on every path, outside any transaction (a SQLite write lock held for
    # 50 ms per login would stall ingest): an unknown name is checked against a dummy hash.
    right = verify_password(password, row.password_hash if row is not None else _DUMMY_HASH)
    locked = row is not None and row.locked_until is not None and row.locked_until > now
    if row is not None and right and locked:
        log.warning("admin_login_refused", username=username, why="locked")
        minutes = _minutes(row.locked_until - now)
        return LoginOutcome(
            None,
            "this account is locked after too many failed logins; try again in "
            f"{plural(minutes, 'minute')}",
            locked=True,
            reason="locked",
            minutes=minutes,
        )
    if row is not None and right:
        with db.write() as conn:
            conn.execute(
                sa.update(admin_accounts)
                .where(admin_accounts.c.username == username)
                .values(failed_logins=0, locked_until=None, last_login_at=now)
            )
        log.info("admin_login", username=username)
        return LoginOutcome(username)
    with db.write() as conn:
        # Both paths commit one transaction: an account's count rides in the same commit.
        if row is not None and not locked:
            _count_wrong_password(conn, username, config, now)
        wait = (
            limiter.record_in(conn, client, _LOGIN_CREDENTIAL + username, now=now)
            if limiter is not None
            else None
        )
    log.warning("admin_login_failed", username=username, client=client, limited=wait is not None)
    if wait is not None:
        minutes = _minutes(timedelta(seconds=wait))
        return LoginOutcome(
            None,
            f"too many failed logins; try again in {plural(minutes, 'minute')}",
            locked=True,
            reason="limited",
            minutes=minutes,
        )
    return LoginOutcome(None, "wrong username or password", reason="wrong")


def _count_wrong_password(
    conn: sa.Connection, username: str, config: WebConfig, now: datetime
) -> None:
    # One UPDATE ... RETURNING: concurrent wrong passwords cannot read the same count.
    failures = conn.execute(
        sa.update(admin_accounts)
        .where(admin_accounts.c.username == username)
        .values(failed_logins=admin_accounts.c.failed_logins + 1)
        .returning(admin_accounts.c.failed_logins)
    ).scalar_one_or_none()
    if failures is None or failures < config.max_login_failures:
        return
    conn.execute(
        sa.update(admin_accounts)
        .where(admin_accounts.c.username == username)
        .values(failed_logins=0, locked_until=now + timedelta(minutes=config.lockout_minutes))
    )
    log.warning("admin_account_locked", username=username, failures=failures)


@dataclass(frozen=True, slots=True)
class WebSession:
    username: str
    csrf_token: str
    id_hash: str
    # The account's language of the admin web ("id"), or None: the browser's.
    locale: str | None = None

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.csrf_token)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def start_session(
    db: Database, username: str, client: str, config: WebConfig, *, now: datetime | None = None
) -> str:
    """Create a session; returns the cookie value (shown to the browser only)."""
    now = now or utc_now()
    cookie = secrets.token_urlsafe(32)
    with db.write() as conn:
        # Expired sessions go when someone logs in: the table stays as small as the live set.
        conn.execute(sa.delete(web_sessions).where(web_sessions.c.expires_at <= now))
        conn.execute(
            sa.insert(web_sessions).values(
                id_hash=_hash(cookie),
                username=username,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=config.session_max_hours),
                client=client[:64],
            )
        )
    return cookie


def load_session(
    db: Database, cookie: str | None, config: WebConfig, *, now: datetime | None = None
) -> WebSession | None:
    """The live session for a cookie value, or None (unknown, expired or idle too long)."""
    if not cookie or len(cookie) > 128:
        return None
    now = now or utc_now()
    id_hash = _hash(cookie)
    with db.read() as conn:
        # The account's language rides along: one query per page, not two.
        row = conn.execute(
            sa.select(web_sessions, admin_accounts.c.locale)
            .join(admin_accounts, admin_accounts.c.username == web_sessions.c.username)
            .where(web_sessions.c.id_hash == id_hash)
        ).first()
    if row is None:
        return None
    idle = timedelta(minutes=config.session_idle_minutes)
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        end_session(db, cookie)
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        with db.write() as conn:
            conn.execute(
                sa.update(web_sessions)
                .where(web_sessions.c.id_hash == id_hash)
                .values(last_seen_at=now)
            )
    return WebSession(row.username, row.csrf_token, id_hash, row.locale)


def end_session(db: Database, cookie: str | None) -> None:
    if not cookie:
        return
    with db.write() as conn:
        conn.execute(sa.delete(web_sessions).where(web_sessions.c.id_hash == _hash(cookie)))
