"""structlog set-up, done once by the entry point.

Under systemd stdout is the journal, not a TTY: one JSON object per line.
On a terminal: readable ``key=value`` lines.

Libraries log through the standard library (httpx, alembic, uvicorn, apscheduler, SQLAlchemy)
or :mod:`warnings` (gpiozero's pin factory fallbacks). Both go through structlog's
``ProcessorFormatter`` to the same renderer as structlog's own events, so the journal never
gets a plain-text line between JSON objects; and they are kept at WARNING, because their
INFO lines (every HTTP request, every Alembic plugin loaded) describe their internals, not
ours.

Every line names its logger: the library's for theirs, the module's ``__name__`` for ours
(``structlog.get_logger(__name__)`` in every module), so ``jq 'select(.logger |
startswith("edge.sync"))'`` picks one part of the program.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog

# stdlib loggers under these names are ours (our packages' ``__name__``s) and follow the
# configured level; everyone else's stay at THIRD_PARTY_LEVEL.
OWN_LOGGERS = ("edge", "sync_server")
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


class _NamedPrintLogger(structlog.PrintLogger):
    """A ``PrintLogger`` that keeps the name it was asked for, for :func:`_add_logger_name`."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedPrintLoggerFactory:
    """``PrintLoggerFactory``, except that ``get_logger(name)``'s name is kept, not dropped.

    Our events are printed directly rather than through the stdlib ``logging`` machinery:
    a debug call at info level then costs one no-op method call (the filtering bound
    logger), which matters in the per-frame loop.
    """

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(self._file, str(args[0]) if args else "")


def _add_logger_name(
    logger: Any, method_name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    name = getattr(logger, "name", "")
    if name:
        event_dict.setdefault("logger", name)
    return event_dict


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
            _add_logger_name,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_NamedPrintLoggerFactory(stream),
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
    for own in OWN_LOGGERS:
        logging.getLogger(own).setLevel(numeric)
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
    structlog.get_logger(__name__).error(event, error=message)
    return True
