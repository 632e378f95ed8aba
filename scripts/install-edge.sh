#!/usr/bin/env bash
# Install or update a hadir wall terminal: OS packages, the "hadir" system user, the
# virtualenv in /opt/hadir/venv, /etc/hadir/edge.toml (only if absent), the terminal
# token, the systemd unit, and time sync. Idempotent: every step checks before it acts,
# so running it again converges (and is how a terminal is upgraded: --source NEW).
# --dry-run prints every step ("+ command") and changes nothing. See docs/operations.md.
set -Eeuo pipefail
PROG=install-edge
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$SCRIPT_DIR/_lib.sh"
stop_on_error

usage() {
    cat <<'EOF'
usage: install-edge.sh [options]

Install or update the hadir terminal daemon on this machine (run as root).

  --platform pi|jetson|generic  default: detected (Raspberry Pi from /proc/device-tree/model
                                or /etc/rpi-issue; Jetson from /etc/nv_tegra_release)
  --source DIR|WHEEL|SPEC       what to pip-install: a source tree, a wheel file, or a PyPI
                                requirement such as "hadir==1.2.0"
                                (default: the repository this script lives in)
  --server-url URL              sync server for a new edge.toml (e.g. https://hadir.example:8600)
  --token-file FILE|-           the terminal token (from "hadir terminal add ID"), copied to
                                /etc/hadir/terminal_token (root, 0600); "-" reads stdin
  --device-id ID                terminal id for a new edge.toml (default: the host name)
  --timezone ZONE               IANA zone for a new edge.toml (default: the system's)
  --python PYTHON               interpreter for the venv (default: /usr/bin/python3, the one
                                apt's python3-* packages are for; 3.11 or newer)
  --unit FILE                   unit file to install (default: systemd/hadir-edge.service
                                next to this script)
  --start                       start (or restart) hadir-edge at the end; default: enable only
  --fast-dlib                   replace the prebuilt dlib-bin with dlib built here with OpenBLAS
                                and this CPU's SIMD (scripts/build-dlib.sh): the face descriptor
                                runs about 5x faster. The build is long (an estimate: about an
                                hour on a Pi 4), once: the wheel is cached in /var/cache/hadir/dlib
  --dry-run                     print every step, change nothing (no root needed)
  --print-config                print the edge.toml this run would write, and exit
  --root DIR                    with --dry-run: look for existing files under DIR (tests)
  -h, --help                    this text

An existing /etc/hadir/edge.toml is never overwritten: --server-url, --device-id and
--timezone only shape a new one. Exit status: 0 done, 1 a step failed, 2 usage error.
EOF
}

REPO_DIR=$(dirname "$SCRIPT_DIR")

PLATFORM=auto
SOURCE=""
SERVER_URL=""
TOKEN_FILE=""
DEVICE_ID=""
TIMEZONE=""
PYTHON=/usr/bin/python3
UNIT_SRC=""
START=0
FAST_DLIB=0
DRY_RUN=0
PRINT_CONFIG=0
ROOT=""

while [ $# -gt 0 ]; do
    opt=$1
    value=""
    case $opt in
        --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
        --platform|--source|--server-url|--token-file|--device-id|--timezone|--python|--unit|--root)
            [ $# -ge 2 ] || usage_error "$opt needs a value"
            value=$2; shift ;;
    esac
    case $opt in
        --platform) PLATFORM=$value ;;
        --source) SOURCE=$value ;;
        --server-url) SERVER_URL=$value ;;
        --token-file) TOKEN_FILE=$value ;;
        --device-id) DEVICE_ID=$value ;;
        --timezone) TIMEZONE=$value ;;
        --python) PYTHON=$value ;;
        --unit) UNIT_SRC=$value ;;
        --root) ROOT=${value%/} ;;
        --start) START=1 ;;
        --fast-dlib) FAST_DLIB=1 ;;
        --dry-run) DRY_RUN=1 ;;
        --print-config) PRINT_CONFIG=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
    shift
done

case $PLATFORM in auto|pi|jetson|generic) ;; *) usage_error "--platform must be pi, jetson or generic" ;; esac
if [ -n "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$PRINT_CONFIG" -eq 0 ]; then
    usage_error "--root is for tests and needs --dry-run"
fi
if [ -n "$DEVICE_ID" ] && ! [[ $DEVICE_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
    usage_error "--device-id: letters, digits, '.', '_' and '-', at most 64"
fi
if [ -n "$SERVER_URL" ] && ! [[ $SERVER_URL =~ ^https?://[^[:space:]\"\\]+$ ]]; then
    usage_error "--server-url must be an http:// or https:// URL"
fi
if [ -n "$TIMEZONE" ] && ! [[ $TIMEZONE =~ ^[A-Za-z0-9/_+-]+$ ]]; then
    usage_error "--timezone must be an IANA zone name such as Europe/Berlin"
fi

# ---------------------------------------------------------------------------------------
# Helpers beyond scripts/_lib.sh's. Probes are read-only; under --root they look at files
# below DIR, not at this system.

user_exists() {
    if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null; else getent passwd "$1" >/dev/null; fi
}

group_exists() {
    if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null; else getent group "$1" >/dev/null; fi
}

user_in_group() {  # user group
    local members
    if [ -n "$ROOT" ]; then
        members=$(grep "^$2:" "$ROOT/etc/group" 2>/dev/null | cut -d: -f4) || return 1
        [[ ,$members, == *,$1,* ]]
    else
        id -nG "$1" 2>/dev/null | tr ' ' '\n' | grep -qx "$2"
    fi
}

pkg_available() {
    [ -z "$ROOT" ] && apt-cache show "$1" >/dev/null 2>&1
}

# cv2_has_gstreamer PYTHON: that interpreter's cv2 was built with GStreamer.
cv2_has_gstreamer() {
    "$1" - 2>/dev/null <<'PY'
import sys

import cv2

lines = [l for l in cv2.getBuildInformation().splitlines() if l.strip().startswith("GStreamer:")]
sys.exit(0 if lines and "YES" in lines[0] else 1)
PY
}

# Python: the package apt installs it from when it is missing ("" when apt cannot).
PY_PKG=$(python_package)
python_too_old() {  # the message for a Python older than 3.11
    if [ "$PLATFORM" = jetson ]; then
        echo "hadir needs Python 3.11+, $PYTHON is $PY_VERSION. JetPack 5/6 ship Python 3.8/3.10 and \
their GStreamer OpenCV is built for that Python only: use a JetPack with Python 3.11+ (JetPack 7), \
or see docs/operations.md (Jetson) for a USB camera with --platform generic --python python3.11"
    else
        echo "hadir needs Python 3.11+, $PYTHON is $PY_VERSION (pass --python)"
    fi
}

# config_value SECTION KEY: that value in an existing edge.toml ("" when unset or unreadable).
config_value() {
    "$PYTHON" - "$CONFIG" "$1" "$2" 2>/dev/null <<'PY' || true
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get(sys.argv[2], {}).get(sys.argv[3], ""))
PY
}

# ---------------------------------------------------------------------------------------
# Platform, and what follows from it.

detect_platform() {
    local model=""
    if [ -r "$ROOT/proc/device-tree/model" ]; then
        model=$(tr -d '\0' <"$ROOT/proc/device-tree/model")
    fi
    if [[ $model == *"Raspberry Pi"* ]] || [ -e "$ROOT/etc/rpi-issue" ]; then
        echo pi
    elif [ -e "$ROOT/etc/nv_tegra_release" ] || [[ $model == *Jetson* ]]; then
        echo jetson
    else
        echo generic
    fi
}

if [ "$PLATFORM" = auto ]; then
    PLATFORM=$(detect_platform)
    PLATFORM_HOW="detected"
else
    PLATFORM_HOW="--platform"
fi
[ -n "$TIMEZONE" ] || TIMEZONE=$(detect_timezone)

edge_template() {
    cat <<EOF
# hadir terminal configuration, written once by scripts/install-edge.sh (platform: $PLATFORM).
# The installer never overwrites this file: edit it freely. Every key and its default:
# docs/configuration.md. Check it with
#   /opt/hadir/venv/bin/hadir config check /etc/hadir/edge.toml

# Absolute, so "hadir edge doctor" run from a shell uses the same database as the service.
data_dir = "/var/lib/hadir"

[device]
EOF
    if [ -n "$DEVICE_ID" ]; then
        printf 'id = %s\n' "$(toml_str "$DEVICE_ID")"
    else
        printf '# id = "door-1"           # default: the host name; must match the id registered at the server\n'
    fi
    printf 'timezone = %s\n\n' "$(toml_str "$TIMEZONE")"
    case $PLATFORM in
        pi)
            cat <<'EOF'
[capture.camera]
type = "picamera2"              # the CSI camera, through libcamera (apt: python3-picamera2)
camera_num = 0
width = 1280
height = 720

[feedback]
type = "gpio"                   # BCM pin numbers (GPIO17 = physical pin 11); see docs/feedback.md
green_pin = 17
red_pin = 27
buzzer_pin = 22
EOF
            ;;
        jetson)
            cat <<'EOF'
[capture.camera]
type = "jetson_csi"             # nvarguscamerasrc through the system OpenCV's GStreamer
sensor_id = 0
width = 1280
height = 720
fps = 30
flip = 0                        # 2 = rotate 180 degrees

[feedback]
type = "log"                    # gpiozero drives Raspberry Pi pins only
EOF
            ;;
        generic)
            cat <<'EOF'
[capture.camera]
type = "opencv"
device = 0                      # /dev/video0; or a path, an rtsp:// URL, a GStreamer pipeline

[feedback]
type = "log"
EOF
            ;;
    esac
    printf '\n[sync]\n'
    if [ -n "$SERVER_URL" ]; then
        printf 'server_url = %s\n' "$(toml_str "$SERVER_URL")"
    else
        printf '# server_url = "https://hadir.example.com:8600"   # unset: offline, every event kept\n'
    fi
    cat <<'EOF'
# The token is not kept here: it is /etc/hadir/terminal_token (root, 0600), which systemd
# hands to the daemon as the credential "terminal_token" (LoadCredential=).
EOF
}

if [ "$PRINT_CONFIG" -eq 1 ]; then
    edge_template
    exit 0
fi

# ---------------------------------------------------------------------------------------
# Paths (below --root DIR for tests).

ETC_DIR=$ROOT/etc/hadir
CONFIG=$ETC_DIR/edge.toml
TOKEN=$ETC_DIR/terminal_token
OPT_DIR=$ROOT/opt/hadir
VENV=$OPT_DIR/venv
CONSTRAINTS=$OPT_DIR/constraints.txt
STATE_DIR=$ROOT/var/lib/hadir
UNIT_NAME=hadir-edge.service
UNIT_DST=$ROOT/etc/systemd/system/$UNIT_NAME
DROPIN_DIR=$ROOT/etc/systemd/system/$UNIT_NAME.d
DROPIN=$DROPIN_DIR/10-jetson-argus.conf
[ -n "$UNIT_SRC" ] || UNIT_SRC=$REPO_DIR/systemd/$UNIT_NAME
[ -n "$SOURCE" ] || SOURCE=$REPO_DIR

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "must run as root (sudo $0 ...); --dry-run shows the steps without root"
fi
[ -r "$UNIT_SRC" ] || die "unit file not found: $UNIT_SRC (use --unit FILE)"
if [ -d "$SOURCE" ]; then
    [ -f "$SOURCE/pyproject.toml" ] || die "--source $SOURCE: no pyproject.toml there"
    SOURCE=$(cd "$SOURCE" && pwd)
elif [[ $SOURCE == *.whl ]]; then
    [ -f "$SOURCE" ] || die "--source $SOURCE: no such wheel"
fi
if [ -n "$TOKEN_FILE" ] && [ "$TOKEN_FILE" != - ] && [ ! -r "$TOKEN_FILE" ]; then
    die "--token-file $TOKEN_FILE: cannot read it"
fi
command -v dpkg-query >/dev/null || die "this installer needs a Debian-based system (apt, dpkg)"

printf 'hadir terminal install: platform %s (%s)%s\n' "$PLATFORM" "$PLATFORM_HOW" \
    "$([ "$DRY_RUN" -eq 1 ] && printf ', dry run: nothing is changed')"

# ---------------------------------------------------------------------------------------
step "preflight"

PY_LATER=0
PY_VERSION=$(python_version) || PY_VERSION=""
if [ -z "$PY_VERSION" ] && [ -n "$PY_PKG" ]; then
    PY_LATER=1
    printf '%s is not installed: the next step installs %s\n' "$PYTHON" "$PY_PKG"
elif [ -z "$PY_VERSION" ]; then
    preflight_fail "$PYTHON not found (install python3, or pass --python)"
elif ! python_new_enough; then
    preflight_fail "$(python_too_old)"
else
    have "$PYTHON is Python $PY_VERSION"
fi

# A --source older than what is installed: the store may already be at a schema the older
# version refuses (SchemaTooNewError). Say so before anything changes.
OLD_VERSION=$(installed_version) || OLD_VERSION=""
NEW_VERSION=$(source_version) || NEW_VERSION=""
DOWNGRADE=""
if [ -n "$OLD_VERSION" ] && [ -n "$NEW_VERSION" ] && older "$NEW_VERSION" "$OLD_VERSION"; then
    DOWNGRADE="--source is hadir $NEW_VERSION, older than the installed $OLD_VERSION: a downgrade. \
If $OLD_VERSION migrated the terminal's store, hadir $NEW_VERSION refuses to open it; going back \
means restoring the store's backup taken before the upgrade (docs/operations.md, \"Downgrades\")"
    warn "$DOWNGRADE"
elif [ -n "$OLD_VERSION" ]; then
    have "installed: hadir $OLD_VERSION${NEW_VERSION:+; --source: $NEW_VERSION}"
fi

if [ "$PLATFORM" = pi ] && [ -z "$ROOT" ]; then
    arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
    if [ "$arch" != arm64 ]; then
        preflight_fail "architecture $arch: install the 64-bit Raspberry Pi OS (bookworm); dlib-bin has no 32-bit ARM wheels"
    else
        have "architecture arm64"
    fi
fi

# ---------------------------------------------------------------------------------------
step "OS packages"

PYVENV_PKG=python3-venv
case $(basename "$PYTHON") in python3.[0-9]*) PYVENV_PKG="$(basename "$PYTHON")-venv" ;; esac
packages=("$PYVENV_PKG" sqlite3 v4l-utils)
[ "$PY_LATER" -eq 0 ] || packages=("$PY_PKG" "${packages[@]}")
case $PLATFORM in
    pi)
        # picamera2 and lgpio (gpiozero's pin factory on bookworm, needed on a Pi 5) come from
        # Raspberry Pi OS; the venv sees them through --system-site-packages.
        # --no-install-recommends keeps the desktop preview (Qt, OpenGL) off a Lite image.
        packages+=(python3-picamera2 python3-lgpio rpicam-apps-lite libopenblas0 fake-hwclock)
        ;;
    jetson)
        # nvarguscamerasrc is in nvidia-l4t-gstreamer; videoconvert and appsink in plugins-base.
        packages+=(nvidia-l4t-gstreamer gstreamer1.0-plugins-base libopenblas0)
        if [ -z "$ROOT" ] && cv2_has_gstreamer "$PYTHON"; then
            have "the system OpenCV ($PYTHON) has GStreamer"
        elif pkg_available nvidia-opencv; then
            packages+=(nvidia-opencv)   # JetPack's OpenCV, GStreamer enabled
        else
            packages+=(python3-opencv)  # Ubuntu's, also built with GStreamer
        fi
        ;;
    generic) packages+=(libopenblas0) ;;
esac
# Time: keep an NTP client that is already there; otherwise systemd-timesyncd.
NTP_OTHER=""
for p in chrony ntp ntpsec openntpd; do
    if pkg_installed "$p"; then NTP_OTHER=$p; break; fi
done
[ -n "$NTP_OTHER" ] || packages+=(systemd-timesyncd)
if [ "$FAST_DLIB" -eq 1 ]; then
    # What scripts/build-dlib.sh compiles dlib with (it checks for the same packages).
    PYDEV_PKG=python3-dev
    case $(basename "$PYTHON") in python3.[0-9]*) PYDEV_PKG="$(basename "$PYTHON")-dev" ;; esac
    packages+=(g++ make pkg-config libopenblas-dev liblapack-dev "$PYDEV_PKG")
fi

missing=()
for p in "${packages[@]}"; do
    if pkg_installed "$p"; then have "package $p"; else missing+=("$p"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ "$PY_LATER" -eq 1 ] && [ "$DRY_RUN" -eq 0 ]; then
    PY_VERSION=$(python_version) || die "$PYTHON is still missing after installing $PY_PKG (pass --python)"
    python_new_enough || die "$(python_too_old)"
    have "$PYTHON is Python $PY_VERSION"
fi

# ---------------------------------------------------------------------------------------
step "user hadir (groups video, gpio) and /var/lib/hadir"

if group_exists gpio; then
    have "group gpio"
else
    # Raspberry Pi OS has it (with udev rules for /dev/gpiochip*, /dev/gpiomem); elsewhere
    # the unit's SupplementaryGroups=video gpio still needs it to exist (status=216/GROUP).
    run groupadd --system gpio
fi
if user_exists hadir; then
    have "user hadir"
else
    run useradd --system --user-group --home-dir /var/lib/hadir --no-create-home \
        --shell /usr/sbin/nologin --comment "hadir attendance terminal" --groups video,gpio hadir
fi
for g in video gpio; do
    if user_in_group hadir "$g"; then have "hadir in group $g"
    elif user_exists hadir; then run usermod --append --groups "$g" hadir
    fi
done
if [ -d "$STATE_DIR" ]; then
    have "$STATE_DIR"
else
    # StateDirectory= creates it at start too; now, so the doctor can run before the service.
    run install -d -m 0750 -o hadir -g hadir "$STATE_DIR"
fi

# ---------------------------------------------------------------------------------------
step "virtualenv $VENV"

SYSTEM_SITE=false
case $PLATFORM in pi|jetson) SYSTEM_SITE=true ;; esac
venv_args=()
[ "$SYSTEM_SITE" = true ] && venv_args=(--system-site-packages)

[ -d "$OPT_DIR" ] || run install -d -m 0755 "$OPT_DIR"
cfg_site=$(sed -n 's/^include-system-site-packages *= *//p' "$VENV/pyvenv.cfg" 2>/dev/null || true)
if [ ! -e "$VENV/pyvenv.cfg" ]; then
    run "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
elif ! "$VENV/bin/python" -c '' 2>/dev/null; then
    # The OS upgraded Python under it: the venv's interpreter link is dead.
    run "$PYTHON" -m venv --clear "${venv_args[@]}" "$VENV"
elif [ "$cfg_site" != "$SYSTEM_SITE" ]; then
    # Rewrites pyvenv.cfg, keeps what is installed.
    run "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
else
    have "$VENV (system site packages: $SYSTEM_SITE)"
fi

# numpy of the OS (after apt: python3-picamera2 brings it): extension modules from apt
# (picamera2's simplejpeg, JetPack's cv2) are built for it, and numpy 1 and 2 are not
# binary compatible.
SYSTEM_NUMPY=""
[ -n "$ROOT" ] || SYSTEM_NUMPY=$("$PYTHON" -c 'import numpy; print(numpy.__version__.split(".")[0])' 2>/dev/null) || true
want_constraints="# Written by scripts/install-edge.sh (pip --constraint); rewritten on every run."
if [ "$SYSTEM_SITE" = true ] && [ "$SYSTEM_NUMPY" != 2 ]; then
    # Bookworm and JetPack ship numpy 1.x; a numpy 2 in the venv would shadow it and break
    # picamera2 (simplejpeg: "numpy.dtype size changed") and JetPack's cv2. pip then picks
    # an opencv-python-headless that supports numpy 1 (4.11) for the Pi.
    want_constraints+=$'\n# apt extension modules (picamera2/simplejpeg, cv2) are built for numpy 1:\nnumpy<2'
fi
if [ -e "$CONSTRAINTS" ] && [ "$(cat "$CONSTRAINTS")" = "$want_constraints" ]; then
    have "$CONSTRAINTS"
else
    printf '%s\n' "$want_constraints" | put_file 0644 root root "$CONSTRAINTS"
fi

PIP=("$VENV/bin/pip" install --disable-pip-version-check --constraint "$CONSTRAINTS")
if [ "$PLATFORM" = jetson ]; then
    # pip's opencv-python(-headless) wheels have no GStreamer, and a cv2 in the venv would
    # shadow the system one. pip cannot leave one dependency out, so install hadir without
    # dependencies, then every dependency it declares except opencv. ("pip check" will name
    # the missing opencv-python-headless: expected, the system cv2 stands in for it.)
    run "${PIP[@]}" --upgrade --no-deps "$SOURCE"
    REQS=$OPT_DIR/requirements-jetson.txt
    printf '+ %s > %s  # hadir'"'"'s dependencies except opencv-python*\n' \
        "$(quote "$VENV/bin/python" -c '...')" "$REQS"
    if [ "$DRY_RUN" -eq 0 ]; then
        "$VENV/bin/python" - >"$REQS" <<'PY'
import re
from importlib.metadata import requires

for req in requires("hadir") or []:
    spec, _, marker = req.partition(";")
    name = re.match(r"[A-Za-z0-9._-]+", spec.strip())
    if "extra" in marker or (name and name.group(0).lower().startswith("opencv-python")):
        continue
    print(req)
PY
    fi
    run "${PIP[@]}" --requirement "$REQS"
    # The cv2 the daemon imports must be the system's, with GStreamer.
    printf '+ %s  # check: cv2 is the system one, with GStreamer\n' "$(quote "$VENV/bin/python" -c '...')"
    if [ "$DRY_RUN" -eq 0 ]; then
        "$VENV/bin/python" - <<'PY' || die "the venv's cv2 cannot open the Jetson CSI pipeline (see above)"
import sys
import cv2

lines = [l for l in cv2.getBuildInformation().splitlines() if l.strip().startswith("GStreamer:")]
print(f"cv2 {cv2.__version__} from {cv2.__file__}")
if sys.prefix in cv2.__file__:
    sys.exit("a pip OpenCV in the venv shadows the system one: pip uninstall opencv-python-headless")
if not (lines and "YES" in lines[0]):
    sys.exit("this OpenCV was built without GStreamer")
PY
    fi
else
    # --upgrade: a newer hadir from --source; its dependencies only as far as it needs.
    run "${PIP[@]}" --upgrade "$SOURCE"
fi
if [ "$FAST_DLIB" -eq 1 ]; then
    # Installed under the name dlib-bin: the next upgrade of hadir keeps it (docs/recognition.md).
    run "$SCRIPT_DIR/build-dlib.sh" --venv "$VENV" --cache "$ROOT/var/cache/hadir/dlib"
fi
# ProtectSystem=strict makes /opt read-only to the service: compile now, or every start
# compiles every module in memory again (seconds on a Pi).
run "$VENV/bin/python" -m compileall -q -j 0 "$VENV"
link_hadir

# ---------------------------------------------------------------------------------------
step "configuration $ETC_DIR"

[ -d "$ETC_DIR" ] || run install -d -m 0755 "$ETC_DIR"
if [ -e "$CONFIG" ]; then
    have "$CONFIG exists: left as it is"
    # Quiet when the file already says what the options say (a re-run with the same flags).
    same=1
    if [ -n "$SERVER_URL" ]; then
        current=$(config_value sync server_url)
        [ "${current%/}" = "${SERVER_URL%/}" ] || same=0
    fi
    if [ -n "$DEVICE_ID" ] && [ "$(config_value device id)" != "$DEVICE_ID" ]; then same=0; fi
    if [ "$same" -eq 0 ]; then
        warn "--server-url/--device-id only shape a new edge.toml; edit $CONFIG"
    elif [ -n "$SERVER_URL$DEVICE_ID" ]; then
        have "$CONFIG has this ${SERVER_URL:+server_url}${SERVER_URL:+${DEVICE_ID:+ and }}${DEVICE_ID:+device id}"
    fi
else
    # Group hadir may read it (the service user); no one else needs to.
    edge_template | put_file 0640 root hadir "$CONFIG"
fi

if [ -n "$TOKEN_FILE" ]; then
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '' | put_file 0600 root root "$TOKEN" "the token from ${TOKEN_FILE/#-/stdin}"
    else
        token=$(if [ "$TOKEN_FILE" = - ]; then head -n1; else head -n1 "$TOKEN_FILE"; fi | tr -d '[:space:]')
        [ -n "$token" ] || die "--token-file $TOKEN_FILE: no token in it"
        if [ -f "$TOKEN" ] && [ "$(head -n1 "$TOKEN" | tr -d '[:space:]')" = "$token" ]; then
            have "$TOKEN holds this token"
        else
            printf '%s\n' "$token" | put_file 0600 root root "$TOKEN" "the token from ${TOKEN_FILE/#-/stdin}"
        fi
    fi
elif [ -e "$TOKEN" ]; then
    have "$TOKEN"
else
    # LoadCredential= fails the start (status=243/CREDENTIALS) when the file is missing. Empty
    # is fine offline; with a server_url the daemon stops with "the terminal token is empty".
    printf '' | put_file 0600 root root "$TOKEN" "empty: put the token from 'hadir terminal add ID' here"
fi

# Whatever the file holds (new or the admin's), the installed version must accept it.
run env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$VENV/bin/hadir" config check --role edge "$CONFIG"

# ---------------------------------------------------------------------------------------
step "systemd unit $UNIT_NAME"

reload=0
if cmp -s "$UNIT_SRC" "$UNIT_DST"; then
    have "$UNIT_DST is current"
else
    run install -m 0644 "$UNIT_SRC" "$UNIT_DST"
    reload=1
fi
if [ "$PLATFORM" = jetson ]; then
    # nvarguscamerasrc reaches nvargus-daemon through the socket /tmp/argus_socket, which the
    # unit's PrivateTmp=yes hides ("Connecting to nvargus-daemon failed: No such file or
    # directory"). Binding just the socket breaks when the daemon restarts: share /tmp.
    dropin_text="# Written by scripts/install-edge.sh (platform jetson): nvarguscamerasrc talks to
# nvargus-daemon through /tmp/argus_socket, which PrivateTmp=yes would hide.
[Service]
PrivateTmp=no"
    if [ -e "$DROPIN" ] && [ "$(cat "$DROPIN")" = "$dropin_text" ]; then
        have "$DROPIN"
    else
        [ -d "$DROPIN_DIR" ] || run install -d -m 0755 "$DROPIN_DIR"
        printf '%s\n' "$dropin_text" | put_file 0644 root root "$DROPIN"
        reload=1
    fi
fi
if [ "$reload" -eq 1 ]; then
    if systemd_live; then run systemctl daemon-reload; else have "systemd not running here: no daemon-reload"; fi
fi
if unit_enabled "$UNIT_NAME"; then have "$UNIT_NAME enabled"; else run systemctl enable "$UNIT_NAME"; fi

# ---------------------------------------------------------------------------------------
step "clock"

SYSTEMD_NOW=""
systemd_live && SYSTEMD_NOW=1
if [ -n "$NTP_OTHER" ]; then
    have "$NTP_OTHER keeps the clock (systemd-timesyncd not needed)"
elif unit_enabled systemd-timesyncd.service; then
    have "systemd-timesyncd enabled"
else
    run systemctl enable ${SYSTEMD_NOW:+--now} systemd-timesyncd.service
fi
if [ "$PLATFORM" = pi ]; then
    # No RTC on a Pi 4 (a Pi 5 has one, with a battery on J5): fake-hwclock restores the
    # last saved time at boot, so the clock starts near the truth, not in 1970, until NTP syncs.
    have "fake-hwclock (package above) saves the time hourly and at shutdown"
fi

# ---------------------------------------------------------------------------------------
step "service"

if [ "$START" -eq 1 ] && systemd_live; then
    run systemctl restart "$UNIT_NAME"
elif [ "$START" -eq 1 ]; then
    warn "systemd is not running here: not started (it starts at boot)"
elif unit_active "$UNIT_NAME"; then
    printf 'hadir-edge is running the previous version: systemctl restart hadir-edge\n'
else
    have "enabled, not started (--start, or: systemctl start hadir-edge)"
fi

cat <<EOF

Next:
  - register the terminal at the server: hadir terminal add <device.id>, then
    install-edge.sh --token-file FILE (or write it to /etc/hadir/terminal_token, mode 0600)
  - check it: systemctl stop hadir-edge; and run "hadir edge doctor" as the service would
    (docs/operations.md, "Checking a terminal"); journalctl -u hadir-edge -f
EOF
[ -z "$DOWNGRADE" ] || warn "$DOWNGRADE"
