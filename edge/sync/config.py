"""``[sync]``: where the server is, how this terminal proves who it is, and how often it talks."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from edge.backoff import BackoffConfig
from edge.config_base import StrictModel
from edge.credentials import read_first_line
from edge.errors import ConfigError
from edge.protocol import MAX_BATCH

CREDENTIAL_NAME = "terminal_token"
"""systemd credential name: ``LoadCredential=terminal_token:/etc/hadir/terminal_token``."""

RENAMED_KEYS = {
    "backoff_initial_s": "initial_delay",
    "backoff_max_s": "max_delay",
    "jitter": "jitter",
}
"""Old ``[sync]`` keys and their names in ``[sync.backoff]`` (the keys of
``[capture.reconnect]``); still accepted, with a warning in the log (attach_sync)."""


class SyncConfig(StrictModel):
    """Sync with the central server: push events, pull enrolment changes, send heartbeats."""

    _renamed: tuple[tuple[str, str], ...] = PrivateAttr(default=())

    server_url: str | None = Field(
        None,
        description="Base URL of the sync server, e.g. https://hadir.example.com:8600; the API "
        "lives under /api/v1 there. Unset: the terminal works offline and keeps every event.",
    )
    token: SecretStr | None = Field(
        None,
        description="This terminal's token (from `hadir server add-terminal`). Prefer "
        "token_file, systemd LoadCredential=terminal_token or HADIR_SYNC__TOKEN over writing "
        "it here.",
    )
    token_file: Path | None = Field(
        None,
        description="File holding the token (first line); used when token is unset. Without "
        "either, $CREDENTIALS_DIRECTORY/terminal_token (systemd LoadCredential) is read.",
    )
    ca_file: Path | None = Field(
        None,
        description="PEM bundle of the CA that signed the server's certificate, for a server "
        "with a private CA; unset: the system's trust store.",
    )
    push_interval_s: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="How often the outbox is checked and pushed. A new event is also pushed "
        "at once while the server is reachable.",
    )
    pull_interval_s: float = Field(
        30.0,
        gt=0,
        le=86_400,
        description="How often enrolment changes are fetched. A heartbeat answer announcing a "
        "newer enrolment version fetches them at once.",
    )
    heartbeat_interval_s: float = Field(
        30.0, gt=0, le=86_400, description="How often the terminal reports its health."
    )
    batch_size: int = Field(
        MAX_BATCH,
        ge=1,
        le=MAX_BATCH,
        description=f"Most events per request (the protocol allows {MAX_BATCH}).",
    )
    timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Limit for each phase of a request (connect, send, each read): a server "
        "that stops answering frees the sync job after this long.",
    )
    backoff: BackoffConfig = Field(
        default_factory=BackoffConfig,
        description="Waiting after a failed request, per job; the longest wait is also the "
        "wait after the server refused the token. The same keys as [capture.reconnect].",
    )
    tick_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often the scheduler wakes to see which job is due (timing runs on "
        "the monotonic clock, so wall-clock jumps do not disturb it).",
    )
    push_budget_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Longest one push run keeps draining a backlog before pull and heartbeat "
        "get their turn; the drain continues right after.",
    )

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        if url.query or url.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @model_validator(mode="wrap")
    @classmethod
    def _old_key_names(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        renamed: list[tuple[str, str]] = []
        if isinstance(data, Mapping) and any(old in data for old in RENAMED_KEYS):
            data = dict(data)
            backoff = data.get("backoff", {})
            if isinstance(backoff, BackoffConfig):
                backoff = backoff.model_dump()
            backoff = dict(backoff) if isinstance(backoff, Mapping) else backoff
            for old, new in RENAMED_KEYS.items():
                if old not in data:
                    continue
                if isinstance(backoff, dict) and new in backoff:
                    raise ValueError(
                        f"{old} is the old name of backoff.{new}: set only backoff.{new}"
                    )
                if isinstance(backoff, dict):
                    backoff[new] = data.pop(old)
                    renamed.append((old, f"backoff.{new}"))
            data["backoff"] = backoff
        config = handler(data)
        config._renamed = tuple(renamed)
        return config

    @property
    def renamed_keys(self) -> tuple[tuple[str, str], ...]:
        """(old, new) names of the keys this config was given under an old name."""
        return self._renamed

    @property
    def enabled(self) -> bool:
        return self.server_url is not None


def tls_trust(config: SyncConfig) -> ssl.SSLContext | bool:
    """How the terminal checks the server's certificate: ``sync.ca_file`` when set, else the
    system's trust store. :class:`ConfigError` naming the key for a file that cannot be loaded."""
    if config.ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(config.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"sync.ca_file {config.ca_file}: {exc}") from exc


def resolve_token(config: SyncConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """The terminal token: ``token``, else ``token_file``, else the systemd credential.

    ``None`` when none is configured; :class:`~edge.errors.ConfigError` for an
    unreadable file or an empty or malformed token.
    """
    environ = os.environ if environ is None else environ
    source = "sync.token"
    token: str | None = None
    if config.token is not None:
        token = config.token.get_secret_value()
    else:
        path = config.token_file
        key = "sync.token_file"
        if path is None and environ.get("CREDENTIALS_DIRECTORY"):
            candidate = Path(environ["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
            path = candidate if candidate.is_file() else None
            key = f"systemd credential {CREDENTIAL_NAME}"
        if path is not None:
            # Name the key as well as the file: the admin edits the key.
            source = f"{key}: {path}"
            try:
                token = read_first_line(path, "terminal token")
            except ConfigError as exc:
                raise ConfigError(f"{key}: {exc}") from exc
    if token is None:
        return None
    token = token.strip()
    if not token:
        raise ConfigError(f"{source}: the terminal token is empty")
    if any(c.isspace() or not c.isprintable() for c in token) or not token.isascii():
        raise ConfigError(f"{source}: the terminal token has spaces or non-ASCII characters")
    return token


__all__ = ["CREDENTIAL_NAME", "RENAMED_KEYS", "SyncConfig", "resolve_token"]
