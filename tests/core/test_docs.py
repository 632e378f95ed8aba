"""Documentation stays true: every CLI command and every config key is documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge.cli import build_parser

from .test_cli import _command_paths

ROOT = Path(__file__).resolve().parents[2]


def _docs_text() -> str:
    texts = [(ROOT / "README.md").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(texts)


def test_every_cli_command_is_documented() -> None:
    text = _docs_text()
    missing = [
        "hadir " + " ".join(path)
        for path in _command_paths(build_parser())
        if path and f"hadir {' '.join(path)}" not in text
    ]
    assert missing == [], f"undocumented commands (add them to README.md): {missing}"


def test_configuration_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
