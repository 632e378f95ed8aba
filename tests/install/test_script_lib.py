"""scripts/_lib.sh: the shell functions the scripts share, defined once (issue 14).

The installers' behaviour is tested through their dry runs (test_install_scripts.py,
test_build_dlib.py, test_check_arm64.py); this checks the sharing itself: no function is
copied between scripts, every script finds the library wherever it is started from, and the
library's error handling says which script failed.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
LIB = SCRIPTS / "_lib.sh"
DEFINITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{", re.MULTILINE)
SOURCING = ("install-edge.sh", "install-server.sh", "build-dlib.sh", "check-arm64.sh")
OWN = {"usage"}  # every script's own --help text


def _functions(path: Path) -> set[str]:
    return set(DEFINITION.findall(path.read_text(encoding="utf-8")))


def test_no_function_is_defined_in_two_scripts() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for script in sorted(SCRIPTS.glob("*.sh")):
        if script != LIB:
            for name in _functions(script) - OWN:
                where[name].append(script.name)
    copies = {name: files for name, files in where.items() if len(files) > 1}
    assert copies == {}, f"defined in several scripts, belongs in scripts/_lib.sh: {copies}"


def test_the_library_holds_the_shared_helpers() -> None:
    assert {"quote", "run", "put_file", "step", "die", "usage_error", "ensure_venv"} <= (
        _functions(LIB)
    )


@pytest.mark.parametrize("script", SOURCING)
def test_a_script_finds_the_library_from_any_working_directory(
    script: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPTS / script), "--no-such-option"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    name = script.removesuffix(".sh")
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"{name}: unknown option: --no-such-option (see --help)\n"


def test_a_failing_step_stops_the_run_naming_the_script(tmp_path: Path) -> None:
    script = tmp_path / "step.sh"
    script.write_text(
        "set -Eeuo pipefail\n"
        "PROG=probe\n"
        f'. "{LIB}"\n'
        "stop_on_error\n"
        "DRY_RUN=0\n"
        "inner() { run sh -c 'exit 7'; }\n"
        "inner\n"
        "echo not reached\n"
    )
    result = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stdout == "+ sh -c 'exit 7'\n"
    assert result.stderr == (
        "probe: error: the last step failed (exit 7); nothing after it was done\n"
    )
