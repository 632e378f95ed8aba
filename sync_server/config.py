"""Settings of the central server (``/etc/hadir/server.toml``), loaded like the edge's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config import LoggingConfig, StrictModel
from edge.recognize.config import RecognitionConfig


class ListenConfig(StrictModel):
    """Where the HTTP server listens."""

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 for every interface.")
    port: int = Field(8600, ge=1, le=65535, description="TCP port.")


class ServerConfig(StrictModel):
    """The sync server's settings."""

    listen: ListenConfig = Field(default_factory=ListenConfig, description="HTTP listener.")
    database_url: str = Field(
        "sqlite:///hadir-server.db",
        min_length=1,
        description="SQLAlchemy URL: sqlite:///PATH (default, WAL) or "
        "postgresql+psycopg://user@host/db for production.",
    )
    data_dir: Path = Field(
        Path("hadir-server-data"), description="Folder for server state other than the database."
    )
    recognition: RecognitionConfig = Field(
        default_factory=RecognitionConfig,
        description="Enrolment uses the terminals' recognition code and thresholds.",
    )
    max_body_bytes: int = Field(
        8_000_000, ge=1024, description="Largest request body accepted (photo uploads included)."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Log output.")
