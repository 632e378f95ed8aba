#!/usr/bin/env bash
# Build dlib from its source package (PyPI sdist) with OpenBLAS and this CPU's SIMD, cache
# the wheel, and install it into a venv in place of the prebuilt dlib-bin. dlib-bin has no
# BLAS: its face descriptor takes about 5x longer. See docs/recognition.md ("A fast dlib").
# --dry-run prints the plan ("+ command") and changes nothing.
set -Eeuo pipefail
PROG=build-dlib
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$SCRIPT_DIR/_lib.sh"
stop_on_error

usage() {
    cat <<'EOF'
usage: build-dlib.sh [options]

Build dlib with OpenBLAS and this CPU's SIMD (AVX/SSE4 on x86_64, NEON on aarch64) from
the dlib source package on PyPI, and install it into a venv in place of dlib-bin. The
wheel is cached, so a second run (or another venv) installs it without building.

  --venv PATH        the virtualenv to install into (default: $VIRTUAL_ENV, else
                     /opt/hadir/venv, the terminal's venv)
  --version VERSION  dlib version to build (default: the venv's dlib-bin or dlib version,
                     without its .postN suffix)
  --jobs N           parallel compile jobs (default: CPUs, at most one per 2 GB of RAM:
                     one dlib compile job takes up to 2 GB)
  --cpu native|generic
                     native (default): compile for this very CPU (-march/-mcpu=native);
                     the wheel may not run on another CPU model. generic: only dlib's own
                     SIMD choice (AVX/SSE4 when this CPU has them, NEON on aarch64)
  --cache DIR        wheel cache (default: ${XDG_CACHE_HOME:-$HOME/.cache}/hadir/dlib)
  --rebuild          build even when the cache holds a wheel for this build
  --dry-run          print the plan, change nothing (no root needed)
  --machine ARCH     with --dry-run: plan for this architecture (x86_64, aarch64; tests)
  --cpuinfo FILE     with --dry-run: read CPU features from FILE, not /proc/cpuinfo (tests)
  -h, --help         this text

Build needs a C++ compiler, the Python headers and OpenBLAS (Debian: build-essential
pkg-config libopenblas-dev liblapack-dev python3-dev); run as root, it installs the
missing ones with apt-get. The build takes minutes (see docs/recognition.md).

The wheel is installed as the distribution dlib-bin with a local version label, e.g.
dlib-bin 20.0.1.post1+hadir.openblas.avx2.native.1a2b3c4d, so hadir's dependency on
dlib-bin stays satisfied and "pip install --upgrade hadir" leaves it in place. Back to
the prebuilt wheel: VENV/bin/pip install --force-reinstall dlib-bin==VERSION.

Exit status: 0 done, 1 a step failed, 2 usage error.
EOF
}

VENV=${VIRTUAL_ENV:-/opt/hadir/venv}
VERSION=""
JOBS=""
CPU=native
CACHE=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hadir/dlib
REBUILD=0
DRY_RUN=0
MACHINE=""
CPUINFO=""

while [ $# -gt 0 ]; do
    opt=$1
    value=""
    case $opt in
        --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
        --venv|--version|--jobs|--cpu|--cache|--machine|--cpuinfo)
            [ $# -ge 2 ] || usage_error "$opt needs a value"
            value=$2; shift ;;
    esac
    case $opt in
        --venv) VENV=${value%/} ;;
        --version) VERSION=$value ;;
        --jobs) JOBS=$value ;;
        --cpu) CPU=$value ;;
        --cache) CACHE=${value%/} ;;
        --machine) MACHINE=$value ;;
        --cpuinfo) CPUINFO=$value ;;
        --rebuild) REBUILD=1 ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
    shift
done

[ -n "$VENV" ] || usage_error "--venv needs a path"
[ -n "$CACHE" ] || usage_error "--cache needs a path"
case $CPU in native|generic) ;; *) usage_error "--cpu must be native or generic" ;; esac
if [ -n "$JOBS" ] && ! [[ $JOBS =~ ^[1-9][0-9]{0,2}$ ]]; then
    usage_error "--jobs must be a whole number from 1 to 999, not '$JOBS'"
fi
if [ -n "$VERSION" ] && ! [[ $VERSION =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
    usage_error "--version must be a release such as 20.0.1, not '$VERSION'"
fi
if [ -n "$MACHINE$CPUINFO" ] && [ "$DRY_RUN" -eq 0 ]; then
    usage_error "--machine and --cpuinfo are for tests and need --dry-run (a build is for this CPU)"
fi
[ -n "$MACHINE" ] || MACHINE=$(uname -m)
[ -n "$CPUINFO" ] || CPUINFO=/proc/cpuinfo
[ -r "$CPUINFO" ] || die "cannot read $CPUINFO"

# ---------------------------------------------------------------------------------------
# Helpers beyond scripts/_lib.sh's (every change goes through its run, which prints it and
# skips it on --dry-run).

# cpu_line KEY...: the value of the first /proc/cpuinfo line whose key is one of KEYs.
cpu_line() {
    local key
    for key in "$@"; do
        sed -n "s/^${key}[[:space:]]*:[[:space:]]*//p" "$CPUINFO" | head -n1 | grep . && return 0
    done
    return 0
}

# ---------------------------------------------------------------------------------------
# What to build: the CPU's SIMD, and the cache key that names this build.

FEATURES=" $(cpu_line flags Features) "
case $MACHINE in
    x86_64|amd64)
        MACHINE=x86_64
        NATIVE_FLAG=-march=native
        if [[ $FEATURES == *" avx2 "* ]]; then SIMD=avx2
        elif [[ $FEATURES == *" avx "* ]]; then SIMD=avx
        elif [[ $FEATURES == *" sse4_1 "* ]]; then SIMD=sse4
        else SIMD=sse2
        fi
        ;;
    aarch64|arm64)
        MACHINE=aarch64
        # GCC takes -mcpu=native on arm64 (-march=native only from GCC 12 on some CPUs);
        # NEON (asimd) is part of the base arm64 instruction set.
        NATIVE_FLAG=-mcpu=native
        SIMD=neon
        ;;
    *) die "architecture $MACHINE: build-dlib.sh knows x86_64 and aarch64 (use dlib-bin here)" ;;
esac

LABEL=openblas.$SIMD
CXXFLAGS_BUILD=${CXXFLAGS:-}
if [ "$CPU" = native ]; then
    # The native wheel may use any instruction of this CPU model: its key names the model
    # (and its feature list), so a disk moved to another CPU model does not reuse it.
    cpu_id=$(printf '%s|%s|%s' "$(cpu_line 'model name' 'CPU part')" "$(cpu_line 'CPU implementer')" \
        "$FEATURES" | sha256sum | cut -c1-8)
    LABEL=$LABEL.native.$cpu_id
    CXXFLAGS_BUILD="${CXXFLAGS_BUILD:+$CXXFLAGS_BUILD }$NATIVE_FLAG"
fi

if [ -z "$JOBS" ]; then
    mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo 2>/dev/null || true)
    JOBS=$(nproc 2>/dev/null || echo 1)
    if [ -n "$mem_kb" ]; then
        by_ram=$(( (mem_kb + 1048576) / 2097152 ))  # round(GB / 2)
        [ "$by_ram" -ge 1 ] || by_ram=1
        [ "$by_ram" -ge "$JOBS" ] || JOBS=$by_ram
    fi
fi

# ---------------------------------------------------------------------------------------
# The venv: its Python, and the dlib it has now.

PY=$VENV/bin/python
VENV_OK=1
if [ ! -x "$PY" ] || ! "$PY" -c '' 2>/dev/null; then
    [ "$DRY_RUN" -eq 1 ] || die "no virtualenv at $VENV (no working $PY; use --venv PATH)"
    warn "no virtualenv at $VENV yet: a real run needs one (with hadir, or at least dlib-bin, installed)"
    VENV_OK=0
fi

# "NAME VERSION" of the installed dlib distribution (dlib-bin first), or nothing.
INSTALLED=""
PY_TAG=""
if [ "$VENV_OK" -eq 1 ]; then
    INSTALLED=$("$PY" - <<'PY'
from importlib.metadata import PackageNotFoundError, version

for name in ("dlib-bin", "dlib"):
    try:
        print(name, version(name))
        break
    except PackageNotFoundError:
        pass
PY
)
    PY_TAG=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
    PY_MINOR=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    # Debian's interpreter gets its headers from python3.X-dev; any other brings its own.
    PY_BASE=$("$PY" -c 'import sys; print(sys.base_prefix)')
    PY_INCLUDE=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("include"))')
fi
INSTALLED_NAME=${INSTALLED%% *}
INSTALLED_VERSION=${INSTALLED#* }

if [ -z "$VERSION" ]; then
    [ -n "$INSTALLED" ] || die "no dlib-bin or dlib in $VENV to take the version from: pass --version (e.g. 20.0.1)"
    # dlib-bin 20.0.1.post1 is a rebuild of dlib 20.0.1: the source package has no .postN.
    VERSION=${INSTALLED_VERSION%%+*}
    VERSION=${VERSION%%.post*}
fi
# The version the installed wheel carries: dlib-bin's own (a requirement that accepted the
# prebuilt wheel accepts this one), plus a local label naming the build.
BASE_VERSION=$VERSION
if [ "$INSTALLED_NAME" = dlib-bin ] && [[ ${INSTALLED_VERSION%%+*} == "$VERSION" || ${INSTALLED_VERSION%%+*} == "$VERSION".post* ]]; then
    BASE_VERSION=${INSTALLED_VERSION%%+*}
fi
WHEEL_VERSION=$BASE_VERSION+hadir.$LABEL

KEY=$VERSION-$MACHINE-$LABEL
CACHE_DIR=$CACHE/$KEY
WHEEL_NAME=dlib_bin-$WHEEL_VERSION-${PY_TAG:-cpXY}-${PY_TAG:-cpXY}-linux_$MACHINE.whl
WHEEL=$CACHE_DIR/$WHEEL_NAME

printf 'dlib %s for %s (%s): OpenBLAS, SIMD %s%s\n' "$VERSION" "$MACHINE" "$CPU" "$SIMD" \
    "$([ "$DRY_RUN" -eq 1 ] && printf '; dry run: nothing is changed')"
printf 'venv %s: %s\n' "$VENV" "${INSTALLED:-no dlib installed}"
printf 'wheel %s\n' "$WHEEL"

if [ "$INSTALLED_NAME" = dlib-bin ] && [ "$INSTALLED_VERSION" = "$WHEEL_VERSION" ] && [ "$REBUILD" -eq 0 ]; then
    have "this build is installed already (--rebuild to build it again)"
    exit 0
fi

# ---------------------------------------------------------------------------------------
BUILD=1
if [ -f "$WHEEL" ] && [ "$REBUILD" -eq 0 ]; then
    step "wheel (cached)"
    have "$WHEEL"
    BUILD=0
fi

if [ "$BUILD" -eq 1 ]; then
    step "build dependencies"
    needed=(g++ make pkg-config libopenblas-dev liblapack-dev)
    if [ "${PY_BASE:-/usr}" = /usr ]; then
        needed+=("python${PY_MINOR:-3}-dev")
    elif [ -f "$PY_INCLUDE/Python.h" ]; then
        have "Python headers $PY_INCLUDE"
    else
        die "no Python.h in $PY_INCLUDE: $PY's interpreter ($PY_BASE) came without its headers"
    fi
    missing=()
    for p in "${needed[@]}"; do
        if pkg_installed "$p"; then have "package $p"; else missing+=("$p"); fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$DRY_RUN" -eq 1 ] || [ "$(id -u)" -eq 0 ]; then
            run apt-get update
            run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
        else
            die "missing build packages; install them (as root): apt-get install ${missing[*]}"
        fi
    fi

    step "build dlib $VERSION ($JOBS jobs)"
    WORK=""
    if [ "$DRY_RUN" -eq 0 ]; then
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/build-dlib.XXXXXX")
        trap 'rm -rf "$WORK"' EXIT
    else
        WORK=${TMPDIR:-/tmp}/build-dlib.XXXXXX
    fi
    # --no-binary dlib, not :all:, which would also compile dlib's build tools (cmake, ...)
    # from source. dlib's setup.py hands every DLIB_* environment variable to CMake;
    # CMake takes CXXFLAGS as the start of its compiler flags. BLAS: OpenBLAS through
    # pkg-config; no GUI (no X11 on a terminal); no CUDA (not this build).
    run env DLIB_USE_BLAS=ON DLIB_USE_LAPACK=ON DLIB_NO_GUI_SUPPORT=ON DLIB_USE_CUDA=OFF \
        CMAKE_BUILD_PARALLEL_LEVEL="$JOBS" ${CXXFLAGS_BUILD:+CXXFLAGS="$CXXFLAGS_BUILD"} \
        "$PY" -m pip wheel --disable-pip-version-check --no-deps --no-binary dlib \
        --wheel-dir "$WORK" "dlib==$VERSION"

    step "check the build, cache it as dlib-bin $WHEEL_VERSION"
    printf '+ %s  # unpack; check BLAS and SIMD; rename to dlib-bin\n' \
        "$(quote "$PY" - "$WORK/dlib-$VERSION-*.whl" "$WHEEL")"
    if [ "$DRY_RUN" -eq 0 ]; then
        built=("$WORK"/dlib-"$VERSION"-*.whl)
        [ -f "${built[0]}" ] || die "pip built no dlib-$VERSION wheel in $WORK"
        mkdir -p "$CACHE_DIR"
        "$PY" - "${built[0]}" "$WHEEL" "$BASE_VERSION" "$LABEL" "$SIMD" <<'PY' || die "the build is not the one asked for (see above); nothing was installed"
"""Check the built wheel (imported from a scratch copy) and write it as dlib-bin.

The same files under the name dlib-bin keep hadir's requirement (dlib-bin) satisfied;
the local version label (+hadir.openblas...) says which build it is.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

src, dest, base_version, label, simd = sys.argv[1:]
version = f"{base_version}+hadir.{label}"

with tempfile.TemporaryDirectory() as scratch:
    with zipfile.ZipFile(src) as wheel:
        wheel.extractall(scratch)
    probe = (
        "import dlib, json; print(json.dumps({k: getattr(dlib, k) for k in "
        "('__version__', 'DLIB_USE_BLAS', 'USE_AVX_INSTRUCTIONS', 'USE_NEON_INSTRUCTIONS')}))"
    )
    env = dict(os.environ, PYTHONPATH=scratch)
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=scratch, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"the built dlib does not import: {out.stderr.strip()}")
    print(f"built: {out.stdout.strip()}")
    info = json.loads(out.stdout)
    if not info["DLIB_USE_BLAS"]:
        sys.exit("the built dlib has no BLAS: CMake did not find OpenBLAS (libopenblas-dev)")
    if simd in ("avx", "avx2") and not info["USE_AVX_INSTRUCTIONS"]:
        sys.exit("the built dlib has no AVX although this CPU has it")
    if simd == "neon" and not info["USE_NEON_INSTRUCTIONS"]:
        sys.exit("the built dlib has no NEON")

with zipfile.ZipFile(src) as old:
    names = old.namelist()
    info_dir = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    new_dir = f"dlib_bin-{version}.dist-info"
    files: dict[str, bytes] = {}
    for name in names:
        if name.endswith("/"):
            continue
        data = old.read(name)
        head, _, tail = name.partition("/")
        if head == info_dir:
            if tail == "RECORD":
                continue
            if tail == "METADATA":
                lines = data.decode().split("\n")
                for i, line in enumerate(lines):
                    if line.startswith("Name: "):
                        lines[i] = "Name: dlib-bin"
                    elif line.startswith("Version: "):
                        lines[i] = f"Version: {version}"
                data = "\n".join(lines).encode()
            name = f"{new_dir}/{tail}"
        files[name] = data

record = []
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(data)}")
record.append(f"{new_dir}/RECORD,,")
files[f"{new_dir}/RECORD"] = ("\n".join(record) + "\n").encode()

partial = dest + ".part"
with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as new:
    for name, data in files.items():
        new.writestr(name, data)
os.replace(partial, dest)
print(f"cached: {dest}")
PY
    fi
fi

# ---------------------------------------------------------------------------------------
step "install into $VENV"

PIP=("$PY" -m pip --disable-pip-version-check)
if [ "$INSTALLED_NAME" = dlib ]; then
    # A source-built "dlib" owns the same files as dlib-bin: it goes first.
    run "${PIP[@]}" uninstall --yes dlib
fi
# Same name as the prebuilt wheel: pip uninstalls dlib-bin, installs this one, and puts
# dlib-bin back if the install fails. --no-deps: dlib has none; hadir's stay as they are.
run "${PIP[@]}" install --no-deps --no-index --force-reinstall "$WHEEL"
printf '+ %s  # the dlib this venv now runs\n' "$(quote "$PY" -c '...')"
if [ "$DRY_RUN" -eq 0 ]; then
    "$PY" -c 'import dlib; print("dlib %s: BLAS %s, AVX %s, NEON %s" % (dlib.__version__, dlib.DLIB_USE_BLAS, dlib.USE_AVX_INSTRUCTIONS, dlib.USE_NEON_INSTRUCTIONS))'
fi
