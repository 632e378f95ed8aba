"""structlog set-up, done once by the entry point.

Under systemd stdout is the journal, not a TTY: one JSON object per line.
On a terminal: readable ``key=value`` lines.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


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
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(
        level=numeric, stream=stream, format="%(name)s %(levelname)s %(message)s", force=True
    )
