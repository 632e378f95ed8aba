"""Exit codes of every ``hadir`` command, and the one wrapper that maps errors to them.

``hadir`` (edge/cli.py), ``python -m sync_server`` and ``python -m
sync_server.reports_cli`` all run their handler through :func:`run_handler`, so
a command that fails says why in one line and exits with the same code wherever
it is started from.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from edge.errors import ConfigError, HadirError

EXIT_OK = 0
EXIT_FAILED = 1
"""Some of the work could not be done: inputs refused, a request the server answered no."""
EXIT_USAGE = 2
"""Nothing was done: bad usage, a config or file that cannot be used."""
EXIT_INTERRUPTED = 130
"""Ctrl-C, as a shell reports a SIGINT."""

Handler = Callable[[argparse.Namespace], int]


def print_error(message: str) -> None:
    print(f"hadir: {message}", file=sys.stderr)


def run_handler(
    args: argparse.Namespace, *, failed: tuple[type[BaseException], ...] = ()
) -> int:
    """Run ``args.handler(args)``; a known error becomes one line on stderr and an exit code.

    ``failed`` names errors that mean "the command ran and was refused" (EXIT_FAILED)
    rather than "it could not start" (EXIT_USAGE). Anything else is a bug and raises.
    """
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print_error(f"config error: {exc}")
        return EXIT_USAGE
    except failed as exc:
        print_error(str(exc))
        return EXIT_FAILED
    except (HadirError, FileNotFoundError) as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Handler",
    "print_error",
    "run_handler",
]
