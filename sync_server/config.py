"""Settings of the central server (``/etc/hadir/server.toml``), loaded like the edge's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from edge.config import LoggingConfig, StrictModel
from edge.credentials import read_first_line
from edge.errors import ConfigError
from edge.protocol import ID_PATTERN
from edge.recognize.config import RecognitionConfig
from edge.recognize.embedder import ENROLMENT_JITTERS, MAX_JITTERS

MIN_ADMIN_TOKEN_CHARS = 16
CREDENTIAL_NAME = "admin_token"
HRMS_SECRET_CREDENTIAL = "hrms_api_secret"


class ListenConfig(StrictModel):
    """Where the HTTP server listens."""

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 for every interface.")
    port: int = Field(8600, ge=1, le=65535, description="TCP port.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port. They share nothing but the database, "
        "so more than one needs PostgreSQL or a local SQLite file.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (client IP "
        "for the bad-credential limit); empty: use the TCP peer address.",
    )
    max_connections: int = Field(
        500,
        ge=2,
        le=100_000,
        description="Open connections (and requests in progress) per server process; a request "
        "arriving beyond it is answered 503 at once and its connection closed. Keep it under "
        "the process's open-file limit.",
    )
    header_timeout_s: float = Field(
        15.0,
        gt=0,
        le=600,
        description="A request's line and headers must arrive within this many seconds of the "
        "connection opening (or of the previous response on a kept-alive connection); a slower "
        "client is disconnected.",
    )
    body_timeout_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="A request's whole body must arrive within this many seconds of its headers "
        "(an 8 MB photo over 1 Mbit/s takes 64 s); a slower client gets 408 and is "
        "disconnected.",
    )
    keep_alive_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="An idle kept-alive connection is closed after this many seconds.",
    )
    max_header_bytes: int = Field(
        16_384,
        ge=1024,
        le=1_048_576,
        description="Largest request line plus headers; a bigger one is refused with 400.",
    )


class AuthConfig(StrictModel):
    """Credentials and the bad-credential limit."""

    max_failures: int = Field(
        20,
        ge=1,
        description="Bad credentials allowed per window for one credential (the same wrong token "
        "or admin login name again) and for one client address (counting each different "
        "credential it tries once); more get 429 until the window ends. A valid credential is "
        "never refused. Counted in the database, so all server processes share it.",
    )
    failure_window_s: float = Field(
        300.0, gt=0, le=86_400, description="Length of the bad-credential window, seconds."
    )


class HrmsConfig(StrictModel):
    """ERPNext / Frappe HRMS: where attendance is pushed as Employee Checkin records."""

    url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Base URL of the Frappe site (e.g. https://erp.example.com); unset: no push.",
    )
    api_key: str | None = Field(
        None, description="API key of the Frappe user that creates the checkins."
    )
    api_secret: SecretStr | None = Field(
        None,
        description="Its API secret; prefer HADIR_HRMS__API_SECRET, api_secret_file or the "
        "systemd credential hrms_api_secret over writing it here.",
    )
    api_secret_file: Path | None = Field(
        None, description="File holding the API secret (first line); used when api_secret is unset."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one request, seconds.")
    max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Tries per checkin; network errors, 429 and 5xx are retried with "
        "exponential backoff, other refusals are reported at once.",
    )
    backoff_s: float = Field(
        1.0, ge=0, le=60, description="Wait before the second try; doubles for every later one."
    )
    concurrency: int = Field(4, ge=1, le=32, description="Requests in flight at once.")


class WebConfig(StrictModel):
    """The admin web pages under /admin: logins, sessions, lockout and the live board."""

    enabled: bool = Field(True, description="Serve the admin web pages under /admin.")
    session_idle_minutes: int = Field(
        60,
        ge=1,
        le=24 * 60,
        description="A session unused this long ends; the admin logs in again.",
    )
    session_max_hours: int = Field(
        12, ge=1, le=24 * 30, description="A session ends this long after login, however used."
    )
    max_login_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Wrong passwords in a row that lock an account (a good login resets the "
        "count).",
    )
    lockout_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="How long a locked account refuses every login, the right password included.",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Secure flag of the session cookie: auto sets it when the request came over "
        "HTTPS (directly or through a trusted proxy); always for a TLS-only site.",
    )
    offline_after_s: float = Field(
        180.0,
        gt=0,
        description="A terminal without a heartbeat for this long shows as offline.",
    )
    board_refresh_s: float = Field(
        5.0,
        ge=1,
        le=300,
        description="How often the today board asks the server for new attendance, seconds.",
    )


class RetentionConfig(StrictModel):
    """How long attendance and the audit trail are kept (docs/privacy.md, "Retention")."""

    events_days: int = Field(
        730,
        ge=0,
        le=36_500,
        description="Attendance (terminal events, corrections, leave) older than this many "
        "days is deleted by the hourly retention job; 0 keeps it for ever. Two years: the "
        "month being paid, a year-end check and a wage claim; the payroll itself is kept by "
        "the HR/payroll system (docs/privacy.md).",
    )
    audit_days: int = Field(
        1095,
        ge=0,
        le=36_500,
        description="Audit rows older than this many days are deleted by the same job; 0 keeps "
        "them for ever. Longer than events_days, so a change's record outlives the data it "
        "changed.",
    )


class PrivacyConfig(StrictModel):
    """Consent to face templates (docs/privacy.md)."""

    consent_text_version: str = Field(
        "1",
        min_length=1,
        max_length=32,
        pattern=ID_PATTERN,  # a word a form, a URL and a CSV carry as it is
        description="Version of the consent text the site has people read and accept (e.g. "
        "2026-12): recorded with each consent unless the admin gives another. Change it when "
        "the text changes.",
    )


class ServerConfig(StrictModel):
    """The sync server's settings."""

    listen: ListenConfig = Field(default_factory=ListenConfig, description="HTTP listener.")
    database_url: str = Field(
        "sqlite:///hadir-server.db",
        min_length=1,
        description="SQLAlchemy URL: sqlite:///PATH (default, WAL) or "
        "postgresql+psycopg://user@host/db for production.",
    )
    db_pool_size: int = Field(
        5, ge=1, le=100, description="PostgreSQL connections kept open per server process."
    )
    migrate_on_start: bool = Field(
        True,
        description="Bring the database schema up to date when the server starts (several "
        "processes starting at once take turns).",
    )
    data_dir: Path = Field(
        Path("hadir-server-data"), description="Folder for server state other than the database."
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for /api/v1/admin (at least 16 characters); prefer "
        "HADIR_ADMIN_TOKEN, admin_token_file or systemd LoadCredential=admin_token over "
        "writing it here.",
    )
    admin_token_file: Path | None = Field(
        None,
        description="File holding the admin token (first line); used when admin_token is unset.",
    )
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Bad-credential limit.")
    recognition: RecognitionConfig = Field(
        default_factory=RecognitionConfig,
        description="Enrolment uses the terminals' recognition code and thresholds.",
    )
    enrolment_workers: int = Field(
        1,
        ge=1,
        le=16,
        description="Threads computing templates from uploaded photos (CPU-bound, per process).",
    )
    enrolment_jitters: int = Field(
        ENROLMENT_JITTERS,
        ge=0,
        le=MAX_JITTERS,
        description="Randomly shifted, rotated and mirrored copies of the face each template "
        "from a photo averages: steadier templates, each copy costing one more descriptor "
        "(about 80 ms without BLAS). 0 is the plain descriptor the terminals compute; "
        "templates made with any count stay comparable (docs/recognition.md).",
    )
    enrolment_page_size: int = Field(
        200, ge=1, le=1000, description="Most changes in one page of the enrolment feed."
    )
    max_future_skew_s: float = Field(
        300.0,
        ge=0,
        description="An event whose (corrected) time is this far ahead of the server clock is "
        "rejected as future_time and kept for an admin to see.",
    )
    retention_days: int = Field(
        90,
        ge=1,
        le=36_500,
        description="Clock references of boots not heard from, and rejected events received, "
        "longer ago than this are deleted (hourly). An unsynchronised event of a boot whose "
        "reference is gone stays uncorrected (time_source unsynced).",
    )
    max_body_bytes: int = Field(
        8_000_000, ge=1024, description="Largest request body accepted (photo uploads included)."
    )
    max_json_body_bytes: int = Field(
        2_000_000,
        ge=1024,
        description="Largest JSON request body (a batch of 500 events is about 250 kB).",
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Log output.")
    site_timezone: str = Field(
        "UTC",
        description="IANA time zone of the site (e.g. Africa/Cairo): reports count days, shift "
        "starts and lateness on this wall clock, daylight saving included.",
    )
    hrms: HrmsConfig = Field(
        default_factory=HrmsConfig,
        description="ERPNext / Frappe HRMS push of attendance (Employee Checkin).",
    )
    web: WebConfig = Field(default_factory=WebConfig, description="Admin web pages.")
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig,
        description="How long attendance and audit rows are kept (applied hourly).",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="Consent to face templates."
    )

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin)") from exc
        return value


def resolve_hrms_secret(config: HrmsConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The HRMS API secret from the config, api_secret_file, or systemd credentials."""
    environ = os.environ if environ is None else environ
    if config.api_secret is not None:
        return config.api_secret.get_secret_value().strip() or None
    path = config.api_secret_file
    if path is None and environ.get("CREDENTIALS_DIRECTORY"):
        candidate = Path(environ["CREDENTIALS_DIRECTORY"]) / HRMS_SECRET_CREDENTIAL
        path = candidate if candidate.is_file() else None
    if path is None:
        return None
    return read_first_line(path, "HRMS API secret").strip() or None


def resolve_admin_token(
    config: ServerConfig, environ: Mapping[str, str] | None = None
) -> str | None:
    """The admin token from config/HADIR_ADMIN_TOKEN, admin_token_file, or systemd credentials.

    Raises :class:`ConfigError` for an unreadable file or a token too short to resist guessing.
    """
    environ = os.environ if environ is None else environ
    token: str | None = None
    source = "admin_token"
    if config.admin_token is not None:
        token = config.admin_token.get_secret_value()
    else:
        path = config.admin_token_file
        if path is None and environ.get("CREDENTIALS_DIRECTORY"):
            candidate = Path(environ["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
            path = candidate if candidate.is_file() else None
        if path is not None:
            source = str(path)
            token = read_first_line(path, "admin token")
    if token is None:
        return None
    token = token.strip()
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(
            f"{source}: the admin token must have at least {MIN_ADMIN_TOKEN_CHARS} characters"
        )
    return token
