# shellcheck shell=bash
# The shell functions the scripts in this folder share (install-edge.sh, install-server.sh,
# build-dlib.sh, check-arm64.sh, demo.sh, test.sh, .ci/run). A script sources it from its own
# folder, wherever it is called from:
#
#     SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#     # shellcheck source=scripts/_lib.sh
#     . "$SCRIPT_DIR/_lib.sh"
#
# Sourcing only defines functions. They read the caller's globals: PROG (the script's name
# in its messages), DRY_RUN (1: print every change, make none), ROOT (--root DIR: the probes
# look at files below DIR, not at this system), PYTHON, VENV and SOURCE (the installers').

# ---------------------------------------------------------------------------------------
# Messages and exit status: 0 done, 1 a step failed, 2 usage error.

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# A command that fails stops the run: say so, with its status, under its "+ ..." line.
# Needs set -E, so that it fires inside functions too.
stop_on_error() {
    trap 'printf "%s: error: the last step failed (exit %s); nothing after it was done\n" "$PROG" "$?" >&2; exit 1' ERR
}

# Stop here on a real run; on --dry-run say what would stop it and show the rest.
preflight_fail() {
    if [ "$DRY_RUN" -eq 1 ]; then warn "a real run would stop here: $*"; else die "$*"; fi
}

# ---------------------------------------------------------------------------------------
# Changes: every one goes through run or put_file, which print it and skip it on --dry-run.

# Shell-quote a word only when it needs it, so printed commands stay readable.
quote() {
    local word out=()
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=("$word"); else out+=("'${word//\'/\'\\\'\'}'"); fi
    done
    printf '%s' "${out[*]}"
}

run() {
    printf '+ %s\n' "$(quote "$@")"
    if [ "$DRY_RUN" -eq 0 ]; then "$@"; fi
}

# put_file MODE OWNER GROUP DEST [NOTE]: write stdin to DEST (install(1): mode and owner
# set before the content is visible). On --dry-run the content is shown, indented, unless
# a NOTE says what it is (secrets are never printed).
put_file() {
    local mode=$1 owner=$2 group=$3 dest=$4 note=${5:-}
    if [ -n "$note" ]; then
        printf '+ install -m %s -o %s -g %s /dev/stdin %s  # %s\n' "$mode" "$owner" "$group" "$dest" "$note"
    else
        printf '+ install -m %s -o %s -g %s /dev/stdin %s  <<EOF\n' "$mode" "$owner" "$group" "$dest"
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
        if [ -n "$note" ]; then cat >/dev/null; else sed 's/^/  | /'; printf '  EOF\n'; fi
    else
        install -m "$mode" -o "$owner" -g "$group" /dev/stdin "$dest"
    fi
}

step() { printf '\n== %s\n' "$*"; }
have() { printf '= %s\n' "$*"; }

toml_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

# ---------------------------------------------------------------------------------------
# Probes: read-only. Under --root they look at files below DIR, not at this system.

pkg_installed() {
    local status
    status=$(dpkg-query ${ROOT:+--admindir="$ROOT/var/lib/dpkg"} -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [ "$status" = "install ok installed" ]
}

unit_enabled() {
    if [ -n "${ROOT:-}" ]; then
        compgen -G "$ROOT/etc/systemd/system/*.wants/$1" >/dev/null
    else
        systemctl is-enabled --quiet "$1" 2>/dev/null
    fi
}

unit_active() { [ -z "${ROOT:-}" ] && systemctl is-active --quiet "$1" 2>/dev/null; }

# False in a chroot or an image build, where enable works (offline) but start, systemd-run
# and daemon-reload do not. A dry run shows those steps as a real run on a live system would.
systemd_live() { [ "$DRY_RUN" -eq 1 ] || [ -d /run/systemd/system ]; }

detect_timezone() {
    local zone=""
    if [ -r "${ROOT:-}/etc/timezone" ]; then
        zone=$(head -n1 "${ROOT:-}/etc/timezone" | tr -d '[:space:]')
    elif [ -L "${ROOT:-}/etc/localtime" ]; then
        zone=$(readlink "${ROOT:-}/etc/localtime")
        zone=${zone#*zoneinfo/}
    fi
    if [[ $zone =~ ^[A-Za-z0-9/_+-]+$ ]] && [[ $zone != Etc/UTC ]]; then echo "$zone"; else echo UTC; fi
}

# ---------------------------------------------------------------------------------------
# Python and the hadir package.

# The package apt installs $PYTHON from when it is missing (/usr/bin/python3[.N] or a bare
# python3[.N] name), so a minimal Debian without python3 does not stop at the preflight;
# nothing for any other interpreter.
python_package() {
    case $PYTHON in
        /usr/bin/python3|/usr/bin/python3.[0-9]*|python3|python3.[0-9]*) printf '%s\n' "${PYTHON##*/}" ;;
    esac
}
python_version() { "$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
python_new_enough() { "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

# The version of hadir in the venv (from its dist-info folder), and the one --source gives
# (a source tree's edge/__init__.py, a wheel's file name, NAME==VERSION); "" when unknown.
installed_version() {
    local d
    for d in "$VENV"/lib/python3*/site-packages/hadir-*.dist-info; do
        [ -d "$d" ] || continue
        d=${d##*/hadir-}
        printf '%s\n' "${d%.dist-info}"
        return 0
    done
}
source_version() {
    if [ -d "$SOURCE" ]; then
        sed -n 's/^__version__ = "\([^"]*\)".*/\1/p' "$SOURCE/edge/__init__.py" 2>/dev/null | head -n1
    elif [[ $SOURCE == *.whl ]]; then
        local base=${SOURCE##*/}
        base=${base#*-}
        printf '%s\n' "${base%%-*}"
    elif [[ $SOURCE =~ ==[[:space:]]*([0-9][A-Za-z0-9.+!-]*)$ ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
    fi
}
# older A B: version A sorts before version B.
older() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }

# The venv's hadir command on the PATH (/usr/local/bin, in sudo's secure_path too), so
# "hadir ..." works as the docs write it. Someone else's file there is left alone.
link_hadir() {
    local target=/opt/hadir/venv/bin/hadir link=${ROOT:-}/usr/local/bin/hadir
    if [ "$(readlink "$link" 2>/dev/null)" = "$target" ]; then
        have "$link -> $target"
    elif [ -e "$link" ] || [ -L "$link" ]; then
        warn "$link exists and is not a link to $target: left as it is (call $target)"
    else
        [ -d "${ROOT:-}/usr/local/bin" ] || run install -d -m 0755 "${ROOT:-}/usr/local/bin"
        run ln -s "$target" "$link"
    fi
}

# ensure_venv [EXTRAS]: the development venv ($HADIR_VENV, default .venv in the repository,
# the working directory) with the project installed, once; again when pyproject.toml is
# newer than the last install. Sets VENV.
ensure_venv() {
    VENV=${HADIR_VENV:-.venv}
    local extras="${1:-}"
    local spec="."
    if [ -n "$extras" ]; then spec=".[${extras}]"; fi
    local stamp="$VENV/.hadir-installed-${extras:-base}"
    # No pip: a venv whose creation was interrupted (python3 -m venv installs pip last).
    if [ ! -x "$VENV/bin/python" ] || [ ! -x "$VENV/bin/pip" ]; then
        echo "== creating $VENV"
        python3 -m venv --clear "$VENV"
        "$VENV/bin/pip" install --quiet --upgrade pip
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "== installing hadir ($spec) into $VENV"
        "$VENV/bin/pip" install --quiet --upgrade setuptools
        "$VENV/bin/pip" install --quiet -e "$spec"
        touch "$stamp"
    fi
}
