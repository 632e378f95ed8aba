"""edge/recognize/dlib_info.py and the doctor's dlib line: which dlib runs, and how fast a kind.

The installed dlib (dlib-bin in CI) is probed for real. Builds that are not installed here
(OpenBLAS, no SIMD) are stood in for by a namespace carrying the same attributes dlib's
module has; scripts/build-dlib.sh's own check and scripts/bench_dlib.py read the real ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from edge.config import EdgeConfig
from edge.daemon.doctor import CHECKS, check_dlib, check_models
from edge.recognize.dlib_info import DlibBuild, cpu_simd, installed_distribution, probe

FLAGS = (
    "DLIB_USE_BLAS", "DLIB_USE_LAPACK", "DLIB_USE_CUDA", "USE_AVX_INSTRUCTIONS",
    "USE_NEON_INSTRUCTIONS",
)  # fmt: skip
FAST_DIST = "dlib-bin 20.0.1.post1+hadir.openblas.avx2.native.a4c4f85f"


def fake_dlib(**flags: bool) -> SimpleNamespace:
    values = {name: False for name in FLAGS}
    values.update(flags)
    return SimpleNamespace(__version__="20.0.1", **values)


@pytest.fixture
def config(tmp_path: Path) -> EdgeConfig:
    return EdgeConfig(data_dir=tmp_path)


def test_the_installed_dlib_is_described_by_its_own_flags() -> None:
    import dlib

    for name in FLAGS:  # both dlib-bin and a source build define every one of them
        assert isinstance(getattr(dlib, name), bool), name
    build = probe()
    assert build.version == dlib.__version__
    assert build.blas is dlib.DLIB_USE_BLAS
    assert build.lapack is dlib.DLIB_USE_LAPACK
    assert build.avx is dlib.USE_AVX_INSTRUCTIONS
    assert build.neon is dlib.USE_NEON_INSTRUCTIONS
    assert build.distribution == installed_distribution()
    assert build.distribution is not None
    assert build.distribution.split()[0] in ("dlib-bin", "dlib")


def test_a_source_build_is_recognised_by_its_version_label() -> None:
    fast = probe(fake_dlib(DLIB_USE_BLAS=True, DLIB_USE_LAPACK=True, USE_AVX_INSTRUCTIONS=True),
                 distribution=FAST_DIST)  # fmt: skip
    assert fast.built_here
    assert fast.simd == "AVX"
    assert fast.describe() == f"dlib 20.0.1 ({FAST_DIST}): BLAS yes, LAPACK yes, SIMD AVX"
    prebuilt = probe(fake_dlib(USE_AVX_INSTRUCTIONS=True), distribution="dlib-bin 20.0.1.post1")
    assert not prebuilt.built_here
    assert prebuilt.describe() == (
        "dlib 20.0.1 (dlib-bin 20.0.1.post1): BLAS no, LAPACK no, SIMD AVX"
    )
    arm = probe(
        fake_dlib(USE_NEON_INSTRUCTIONS=True, DLIB_USE_CUDA=True), distribution="dlib 19.24.6"
    )
    assert arm.describe() == "dlib 20.0.1 (dlib 19.24.6): BLAS no, LAPACK no, SIMD NEON, CUDA"


def test_without_blas_the_doctor_warns_and_says_how_to_build_one(config: EdgeConfig) -> None:
    build = probe(fake_dlib(USE_AVX_INSTRUCTIONS=True), distribution="dlib-bin 20.0.1.post1")
    result = check_dlib(config, build=build, cpu={"AVX"})
    assert not result.ok
    assert result.warning  # dlib-bin works: a warning, not a failure
    assert result.line().startswith("[warn] dlib: dlib 20.0.1 (dlib-bin 20.0.1.post1): BLAS no")
    assert "5x longer" in result.detail
    assert "scripts/build-dlib.sh" in result.detail


def test_a_blas_build_with_the_cpus_simd_is_ok(config: EdgeConfig) -> None:
    build = probe(fake_dlib(DLIB_USE_BLAS=True, USE_AVX_INSTRUCTIONS=True), distribution=FAST_DIST)
    result = check_dlib(config, build=build, cpu={"AVX"})
    assert result.ok
    assert result.line() == f"[ok  ] dlib: dlib 20.0.1 ({FAST_DIST}): BLAS yes, LAPACK no, SIMD AVX"
    arm = probe(
        fake_dlib(DLIB_USE_BLAS=True, USE_NEON_INSTRUCTIONS=True), distribution="dlib 20.0.1"
    )
    assert check_dlib(config, build=arm, cpu={"NEON"}).ok


def test_a_blas_build_without_simd_warns_only_where_the_cpu_has_some(config: EdgeConfig) -> None:
    build = probe(fake_dlib(DLIB_USE_BLAS=True), distribution="dlib 20.0.1")
    on_avx = check_dlib(config, build=build, cpu={"AVX"})
    assert not on_avx.ok
    assert on_avx.warning
    assert "this CPU has AVX, unused: HOG detection is slower" in on_avx.detail
    assert check_dlib(config, build=build, cpu=set()).ok


def test_the_doctor_probes_the_installed_dlib(config: EdgeConfig) -> None:
    import dlib

    result = check_dlib(config)
    assert result.detail.startswith(f"dlib {dlib.__version__} (")
    assert f"BLAS {'yes' if dlib.DLIB_USE_BLAS else 'no'}" in result.detail
    if not dlib.DLIB_USE_BLAS:  # dlib-bin, as CI has it
        assert not result.ok
        assert result.warning


def test_a_dlib_that_does_not_import_fails_the_check(
    config: EdgeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # what "import dlib" finds: ImportError
    result = check_dlib(config)
    assert not result.ok
    assert not result.warning
    assert result.detail.startswith("dlib does not import:")


def test_the_dlib_line_follows_the_models_line() -> None:
    assert CHECKS.index(check_dlib) == CHECKS.index(check_models) + 1


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("processor\t: 0\nflags\t\t: fpu sse2 sse4_1 avx avx2 fma\n", {"AVX"}),
        ("processor\t: 0\nflags\t\t: fpu sse2 sse4_1 sse4_2\n", set()),
        ("processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n", {"NEON"}),
        ("processor\t: 0\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3\n", {"NEON"}),
    ],
)
def test_cpu_simd_reads_cpuinfo(tmp_path: Path, text: str, found: set[str]) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    assert cpu_simd(path) == found


def test_cpu_simd_of_an_unreadable_cpuinfo_is_empty(tmp_path: Path) -> None:
    assert cpu_simd(tmp_path / "absent") == set()


def test_dlib_build_is_a_value() -> None:
    a = DlibBuild("20.0.1", None, True, True, False, True, False)
    assert a == DlibBuild("20.0.1", None, True, True, False, True, False)
    assert a.describe() == "dlib 20.0.1: BLAS yes, LAPACK yes, SIMD AVX"


def test_one_blas_thread_unless_the_operator_chose() -> None:
    from edge.recognize.dlib_info import BLAS_THREADS, one_blas_thread

    chosen = {BLAS_THREADS: "4"}
    one_blas_thread(chosen)
    assert chosen == {BLAS_THREADS: "4"}
    empty: dict[str, str] = {}
    one_blas_thread(empty)
    assert empty == {BLAS_THREADS: "1"}


def test_the_daemon_asks_for_one_blas_thread_before_dlib_loads(tmp_path: Path) -> None:
    """`hadir edge run` sets it first thing (the scan worker inherits it), before dlib is
    imported, even when the config then turns out to be missing."""
    import os
    import subprocess

    from edge.recognize.dlib_info import BLAS_THREADS

    script = (
        "import os, sys\n"
        "from edge.cli import main\n"
        "code = main(['edge', 'run', '--config', sys.argv[1]])\n"
        "print(code, os.environ.get('OPENBLAS_NUM_THREADS'), 'dlib' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != BLAS_THREADS}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    code, threads, dlib_loaded = done.stdout.split()[-3:]
    assert code != "0"  # the missing config is refused...
    assert (threads, dlib_loaded) == ("1", "False")  # ...after the variable was set
