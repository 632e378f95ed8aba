"""structlog set-up, done once by the entry point.

Under systemd stdout is the journal, not a TTY: one JSON object per line.
On a terminal: readable ``key=value`` lines.

Libraries log through the standard library (httpx, alembic, uvicorn, apscheduler, SQLAlchemy)
or :mod:`warnings` (gpiozero's pin factory fallbacks). Both go through the same renderer as
structlog's own events, so the journal never gets a plain-text line between JSON objects;
and they are kept at WARNING, because their INFO lines (every HTTP request, every Alembic
plugin loaded) describe their internals, not ours.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog

# stdlib loggers under this name are ours and follow the configured level.
OWN_LOGGER = "hadir"
THIRD_PARTY_LEVEL = logging.WARNING


class _StderrProxy:
    """Writes to whatever ``sys.stderr`` is at the time of the write.

    Binding the stream object at configure time breaks when it is later
    replaced and closed (pytest's capture, a daemon re-opening its output).
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog and the stdlib root logger. Idempotent."""
    if stream is None:
        stream = cast(TextIO, _StderrProxy())
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # A traceback becomes one "exception" string: one JSON line, not thirty.
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(max(numeric, THIRD_PARTY_LEVEL))
    logging.getLogger(OWN_LOGGER).setLevel(numeric)
    # warnings.warn (gpiozero's PinFactoryFallback, deprecations) would print two plain lines.
    logging.captureWarnings(True)


def log_fatal(event: str, message: str) -> bool:
    """A service's last word as an error record, when its logs are JSON lines (the journal).

    Returns False, logging nothing, when they are not: the caller then prints its usual
    ``hadir: ...`` line for a person at a terminal.
    """
    processors = structlog.get_config()["processors"]
    if not processors or not isinstance(processors[-1], structlog.processors.JSONRenderer):
        return False
    structlog.get_logger("hadir").error(event, error=message)
    return True
