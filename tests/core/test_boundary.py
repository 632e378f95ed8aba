"""The package boundary (docs/architecture.md, "Package boundary"): edge/ does not depend on
sync_server/ except where the ``hadir`` command and the demo are composed; no import cycle
between the two doctors; one clock module; one wrapper mapping errors to exit codes."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import ConfigError, HadirError

ROOT = Path(__file__).resolve().parents[2]
# The two modules under edge/ that may import sync_server: the `hadir` command line that
# composes both roles, and the demo that runs a real server next to a real terminal.
COMPOSITION = {"edge/cli.py", "edge/demo.py"}


def _modules(package: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, at any depth (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
    return names


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_only_the_composition_modules_import_sync_server() -> None:
    importers = {
        path
        for path, tree in _modules("edge")
        if any(name.split(".")[0] == "sync_server" for name in _imported(tree))
    }
    assert importers <= COMPOSITION


def test_the_terminal_commands_work_without_sync_server() -> None:
    # A process where sync_server cannot be imported at all: the terminal's own commands
    # are still built and parsed, so they stand on the shared core alone.
    result = _python(
        "import sys; sys.modules['sync_server'] = None\n"
        "import argparse\n"
        "from edge.terminal_cli import add_edge_parser, add_identify_parser\n"
        "parser = argparse.ArgumentParser(prog='hadir')\n"
        "sub = parser.add_subparsers(dest='command', required=True)\n"
        "add_identify_parser(sub)\n"
        "add_edge_parser(sub)\n"
        "args = parser.parse_args(['edge', 'doctor', '--config', 'x.toml'])\n"
        "print(args.handler.__module__, args.handler.__name__)\n"
        "assert not any(m.startswith('sync_server.') for m in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["edge.terminal_cli", "cmd_edge_doctor"]


def test_the_sync_checks_do_not_import_the_daemon_doctor() -> None:
    # The check types live in a leaf module, so the sync checks run on their own.
    result = _python(
        "import sys\n"
        "from edge.checks import CheckResult\n"
        "from edge.config import EdgeConfig\n"
        "from edge.sync.doctor import SYNC_CHECKS\n"
        "results = [check(EdgeConfig()) for check in SYNC_CHECKS]\n"
        "assert all(isinstance(r, CheckResult) for r in results), results\n"
        "print('edge.daemon.doctor' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_daemon_runs_the_one_list_of_sync_checks() -> None:
    from edge.daemon.doctor import CHECKS
    from edge.sync.doctor import SYNC_CHECKS

    assert CHECKS[-len(SYNC_CHECKS) :] == SYNC_CHECKS
    tree = ast.parse((ROOT / "edge/daemon/doctor.py").read_text(encoding="utf-8"))
    named = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id.startswith("check_server")
    }
    assert named == set(), "the daemon names sync checks one by one instead of SYNC_CHECKS"


def test_one_utc_now() -> None:
    defined = [
        path
        for package in ("edge", "sync_server")
        for path, tree in _modules(package)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name in ("utc_now", "utcnow")
    ]
    assert defined == ["edge/clock.py"]

    from edge.capture.source import FrameSource
    from edge.clock import utc_now
    from edge.store import utc_now as store_utc_now

    assert store_utc_now is utc_now
    defaults = FrameSource.__init__.__kwdefaults__
    assert defaults is not None
    assert defaults["now"] is utc_now


def test_one_id_pattern() -> None:
    """Person, terminal and group ids follow one rule, written once (edge.protocol)."""
    from edge.protocol import ID_PATTERN

    written = [
        path
        for package in ("edge", "sync_server")
        for path, tree in _modules(package)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == ID_PATTERN
    ]
    assert written == ["edge/protocol.py"]


def test_the_edge_config_base_is_not_called_model() -> None:
    """edge/model.py was read as the face models' module (edge/recognize/models.py)."""
    assert not (ROOT / "edge" / "model.py").exists()
    from edge.config import StrictModel
    from edge.config_base import StrictModel as BaseOfConfigs

    assert StrictModel is BaseOfConfigs


def test_one_place_turns_interrupts_and_errors_into_exit_codes() -> None:
    handlers = [
        path
        for package in ("edge", "sync_server")
        for path, tree in _modules(package)
        for node in ast.walk(tree)
        if isinstance(node, ast.ExceptHandler)
        and isinstance(node.type, ast.Name)
        and node.type.id == "KeyboardInterrupt"
    ]
    assert handlers == ["edge/exit_codes.py"]


def _raising(exc: BaseException) -> object:
    def handler(args: argparse.Namespace) -> int:
        raise exc

    return handler


class _RefusedError(HadirError, RuntimeError):
    pass


@pytest.mark.parametrize(
    ("exc", "failed", "code", "message"),
    [
        (ConfigError("x.toml: bad"), (), 2, "hadir: config error: x.toml: bad"),
        (HadirError("no camera"), (), 2, "hadir: no camera"),
        (FileNotFoundError("no such file: a.jpg"), (), 2, "hadir: no such file: a.jpg"),
        (_RefusedError("server answered 401"), (), 2, "hadir: server answered 401"),
        (_RefusedError("server answered 401"), (_RefusedError,), 1, "hadir: server answered 401"),
        (KeyboardInterrupt(), (), 130, ""),
    ],
)
def test_run_handler_maps_errors_to_exit_codes(
    exc: BaseException,
    failed: tuple[type[BaseException], ...],
    code: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from edge.exit_codes import run_handler

    args = argparse.Namespace(handler=_raising(exc))
    assert run_handler(args, failed=failed) == code
    assert capsys.readouterr().err.strip() == message


def test_run_handler_returns_the_handler_code_and_lets_bugs_through() -> None:
    from edge.exit_codes import run_handler

    assert run_handler(argparse.Namespace(handler=lambda args: 1)) == 1
    with pytest.raises(ZeroDivisionError):
        run_handler(argparse.Namespace(handler=_raising(ZeroDivisionError("bug"))))
