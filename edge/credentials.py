"""Reading a secret (token, password, API secret) from its file: the first line, nothing else."""

from __future__ import annotations

from pathlib import Path

from edge.errors import ConfigError


def read_first_line(path: Path, what: str) -> str:
    """The file's first line ("" for an empty file); ConfigError naming the file and ``what``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc})") from exc
    return lines[0] if lines else ""
