"""Which dlib this process runs: version, where it came from, BLAS, SIMD.

The prebuilt ``dlib-bin`` wheel has no BLAS, which makes the face descriptor several times
slower than a build with OpenBLAS (``scripts/build-dlib.sh``, docs/recognition.md, "A fast
dlib"). ``hadir edge doctor`` reports it with :func:`probe`. dlib is imported only when
probed, and the module can be handed in, so tests can probe a build that is not installed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

BLAS_THREADS = "OPENBLAS_NUM_THREADS"
"""OpenBLAS reads its thread count from this variable once, when it is loaded."""

SOURCE_BUILD_LABEL = "+hadir."
"""Local version label that scripts/build-dlib.sh gives the wheel it builds."""


@dataclass(frozen=True, slots=True)
class DlibBuild:
    """What a dlib module was compiled with (its own ``DLIB_USE_*``/``USE_*`` flags)."""

    version: str
    distribution: str | None
    """``"dlib-bin 20.0.1.post1"``, ``"dlib 20.0.1"``; None when no metadata names it."""
    blas: bool
    lapack: bool
    cuda: bool
    avx: bool
    neon: bool

    @property
    def simd(self) -> str:
        if self.avx:
            return "AVX"
        if self.neon:
            return "NEON"
        return "none"

    @property
    def built_here(self) -> bool:
        """Built by scripts/build-dlib.sh (it installs its wheel as dlib-bin +hadir.*)."""
        return self.distribution is not None and SOURCE_BUILD_LABEL in self.distribution

    def describe(self) -> str:
        source = f" ({self.distribution})" if self.distribution else ""
        flags = [
            f"BLAS {'yes' if self.blas else 'no'}",
            f"LAPACK {'yes' if self.lapack else 'no'}",
            f"SIMD {self.simd}",
        ]
        if self.cuda:
            flags.append("CUDA")
        return f"dlib {self.version}{source}: {', '.join(flags)}"


def installed_distribution() -> str | None:
    """The distribution that provides ``dlib`` here, as ``"NAME VERSION"``.

    Both ``dlib-bin`` and ``dlib`` install the same module; dlib-bin is asked first because
    that is the name hadir requires (and the name scripts/build-dlib.sh installs under).
    """
    for name in ("dlib-bin", "dlib"):
        try:
            return f"{name} {version(name)}"
        except PackageNotFoundError:
            continue
    return None


def probe(module: Any | None = None, *, distribution: str | None = None) -> DlibBuild:
    """Describe ``module`` (default: ``import dlib``). Raises ImportError when dlib is absent.

    ``distribution`` names where it came from; by default the installed distribution.
    """
    if module is None:
        import dlib

        module = dlib
    if distribution is None:
        distribution = installed_distribution()

    def flag(name: str) -> bool:
        # Every dlib since 19.x has these attributes; a build without one did not use it.
        return bool(getattr(module, name, False))

    return DlibBuild(
        version=str(getattr(module, "__version__", "unknown")),
        distribution=distribution,
        blas=flag("DLIB_USE_BLAS"),
        lapack=flag("DLIB_USE_LAPACK"),
        cuda=flag("DLIB_USE_CUDA"),
        avx=flag("USE_AVX_INSTRUCTIONS"),
        neon=flag("USE_NEON_INSTRUCTIONS"),
    )


def one_blas_thread(environ: MutableMapping[str, str] | None = None) -> bool:
    """Ask OpenBLAS (a dlib built with BLAS) for one thread, unless the operator set a number.

    The terminal's descriptors are small products, one face at a time, on a device whose
    other cores are busy (the scan worker, the camera's decoder). OpenBLAS's own threads then
    wait for a core, and a descriptor that takes ~25 ms on one thread took ~170 ms with two
    threads while another process kept the second core busy (measured here, with the build
    of scripts/build-dlib.sh). Must run before dlib is first imported; returns False when it
    came too late to take effect.
    """
    env = os.environ if environ is None else environ
    env.setdefault(BLAS_THREADS, "1")
    return "dlib" not in sys.modules


def cpu_simd(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The SIMD families this CPU offers that dlib can use: ``{"AVX", "NEON"}`` subsets."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    found: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() not in ("flags", "Features"):
            continue
        words = set(value.split())
        if "avx" in words:
            found.add("AVX")
        if "asimd" in words or "neon" in words:
            found.add("NEON")
        break
    return found


__all__ = [
    "BLAS_THREADS",
    "DlibBuild",
    "cpu_simd",
    "installed_distribution",
    "one_blas_thread",
    "probe",
]
