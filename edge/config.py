"""Configuration: a TOML file per role, every key overridable by ``HADIR_*`` variables.

``HADIR_SECTION__KEY=value`` overrides ``[section] key`` (double underscore for
nesting, case-insensitive). Unknown keys and invalid values fail at start with
one line naming the key, e.g.::

    edge.toml: recognition.matching.threshold: Input should be less than 2 (got 7)
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator

from edge.capture.config import CaptureConfig
from edge.config_base import StrictModel
from edge.errors import ConfigError
from edge.feedback.config import FeedbackConfig, LogFeedbackConfig
from edge.protocol import ID_MAX_LENGTH, ID_PATTERN
from edge.recognize.config import RecognitionConfig
from edge.store.config import StoreConfig
from edge.sync.config import SyncConfig, resolve_token, tls_trust

__all__ = ["EdgeConfig", "StrictModel", "check_edge_config", "load_config", "load_edge_config"]

ENV_PREFIX = "HADIR_"
# Variables that share the prefix but are not config keys.
RESERVED_ENV = frozenset(
    {"HADIR_CONFIG", "HADIR_FACES_DIR", "HADIR_MODELS_DIR", "HADIR_LOG_FORMAT", "HADIR_LOG_LEVEL"}
)

M = TypeVar("M", bound=BaseModel)


class DeviceConfig(StrictModel):
    """Who this terminal is."""

    id: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="Terminal id, unique per site; defaults to the host name.",
    )
    timezone: str = Field(
        "UTC", description="IANA time zone of the site (e.g. Europe/Berlin), for the local day."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                "unknown time zone (expected an IANA name such as Europe/Berlin)"
            ) from exc
        return value


class LoggingConfig(StrictModel):
    """Log output."""

    level: str = Field(
        "info",
        pattern=r"^(?i:debug|info|warning|error)$",
        description="Lowest level logged: debug, info, warning or error.",
    )
    format: str = Field(
        "auto",
        pattern=r"^(auto|json|console)$",
        description="json (journald), console (key=value) or auto: json unless stdout is a TTY.",
    )


class DaemonConfig(StrictModel):
    """Process lifecycle under systemd."""

    stall_after_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Stop the systemd watchdog pings when no frame arrived for this long, so "
        "a hung camera gets the service restarted (WatchdogSec later).",
    )
    capture_stop_timeout_s: float = Field(
        2.0,
        gt=0,
        le=30,
        description="On SIGTERM, how long to wait for a camera read stuck in the driver "
        "before exiting anyway (systemd's stop timeout must be longer).",
    )


class EdgeConfig(StrictModel):
    """Settings of one terminal (``/etc/hadir/edge.toml``)."""

    device: DeviceConfig = Field(default_factory=DeviceConfig, description="Terminal identity.")
    data_dir: Path = Field(
        Path("hadir-data"),
        description="Where the terminal keeps its database; relative paths are taken from the "
        "working directory (systemd sets it to the unit's StateDirectory).",
    )
    capture: CaptureConfig = Field(
        default_factory=CaptureConfig, description="Camera backend and reconnect policy."
    )
    recognition: RecognitionConfig = Field(
        default_factory=RecognitionConfig, description="Detector, quality and matching rules."
    )
    store: StoreConfig = Field(
        default_factory=StoreConfig,
        description="Event log, outbox and enrolment mirror (one SQLite file).",
    )
    feedback: FeedbackConfig = Field(
        default_factory=LogFeedbackConfig,
        description="LED/buzzer backend: gpio on a terminal, log where there is no GPIO.",
    )
    sync: SyncConfig = Field(
        default_factory=SyncConfig,
        description="Central server: push events, pull enrolment, heartbeat (off without "
        "server_url).",
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Log output.")
    daemon: DaemonConfig = Field(default_factory=DaemonConfig, description="Lifecycle, watchdog.")


def _env_overrides(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, Any]:
    """Nested dict of the ``HADIR_*`` variables that address ``model``'s top-level keys."""
    fields = {name.lower() for name in model.model_fields}
    result: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in RESERVED_ENV:
            continue
        path = upper[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in fields:
            # Another role's key (a server variable on a terminal); not ours to judge.
            continue
        node = result
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: conflicts with another HADIR_ variable")
            node = child
        node[path[-1]] = _parse_env_value(raw)
    return result


def _parse_env_value(raw: str) -> Any:
    # Lists and tables come as JSON; scalars stay strings for pydantic to coerce.
    stripped = raw.strip()
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return raw
    return raw


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line per problem: ``source: dotted.key: message (got value)``."""
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key"
        elif item["type"] == "union_tag_invalid":
            msg = item["msg"]
        got = item.get("input")
        suffix = (
            "" if item["type"] == "extra_forbidden" or isinstance(got, dict) else f" (got {got!r})"
        )
        lines.append(f"{source}: {loc or '(top level)'}: {msg}{suffix}")
    return "\n".join(lines)


def load_config(
    model: type[M],
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> M:
    """Read ``path`` (optional), apply ``HADIR_*`` overrides, validate into ``model``."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: config file not found") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text") from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    overrides = _env_overrides(model, environ)
    if overrides:
        source = f"{source} + HADIR_* environment"
    try:
        return model.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from exc


def load_edge_config(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> EdgeConfig:
    return load_config(EdgeConfig, path, environ=environ)


def edge_config_problems(
    config: EdgeConfig, *, environ: Mapping[str, str] | None = None
) -> list[str]:
    """What a valid config still lacks for ``hadir edge run``: the files it points at.

    One line per problem, each starting with the key. Only what the run itself
    needs is checked: the token and CA file matter only with a ``sync.server_url``.
    """
    problems: list[str] = []
    sync = config.sync
    if sync.enabled:
        try:
            token = resolve_token(sync, environ)
        except ConfigError as exc:
            problems.append(str(exc))
        else:
            if token is None:
                problems.append(
                    "sync.server_url: set, but no terminal token is configured: set "
                    "sync.token_file, HADIR_SYNC__TOKEN, or systemd LoadCredential=terminal_token"
                )
        try:
            tls_trust(sync)
        except ConfigError as exc:
            problems.append(str(exc))
    return problems


def check_edge_config(config: EdgeConfig, *, environ: Mapping[str, str] | None = None) -> None:
    """:class:`ConfigError` listing :func:`edge_config_problems`, if any.

    ``hadir config check`` and ``hadir edge run`` both call this, the run before
    it creates the store or opens the camera, so a config the check calls ok
    starts, and one it refuses leaves nothing behind.
    """
    problems = edge_config_problems(config, environ=environ)
    if problems:
        raise ConfigError("\n".join(problems))
