#!/usr/bin/env bash
# The arm64 check: in an emulated arm64 Debian bookworm (qemu-user-static through binfmt_misc,
# debootstrap), install the terminal with scripts/install-edge.sh --platform pi, as on a
# Raspberry Pi, then run "hadir identify" on real photos and replay a real clip through
# "hadir edge run", and check the answers: who was identified, what was recorded.
# The rootfs (as a tarball) and pip's wheel cache are kept between runs; the project source
# is copied in fresh every run. See docs/operations.md, "The arm64 check".
set -Eeuo pipefail
PROG=check-arm64
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$SCRIPT_DIR/_lib.sh"

usage() {
    cat <<'EOF'
usage: check-arm64.sh [options]

Install this source tree in an emulated arm64 Debian bookworm as install-edge.sh does on a
Raspberry Pi, and check that it identifies faces and records attendance there (run as root).

  --cache-dir DIR   rootfs tarball and pip cache (default:
                    ${XDG_CACHE_HOME:-$HOME/.cache}/hadir/arm64)
  --faces DIR       the shared face data (default: $HADIR_FACES_DIR, else ../shared/faces
                    beside the repository)
  --mirror URL      Debian mirror (default: http://deb.debian.org/debian)
  --keep            keep the work directory (the arm64 system, logs) and print its path
  --dry-run         print the plan and every step, change nothing (no root needed)
  -h, --help        this text

Exit status: 0 the answers were right; 1 a step failed or an answer was wrong; 2 usage
error; 3 this machine cannot emulate arm64 (the message names the cause). .ci/run prints
a loud skip banner on 3, or fails on it too when HADIR_ARM64_CHECK=required.
EOF
}

# 2, a usage error, is _lib.sh's usage_error.
EXIT_FAILED=1
EXIT_CANNOT=3

say() { printf 'check-arm64: %s\n' "$*"; }
# Its own die: a wrong answer reads FAILED in a CI log.
die() { printf 'check-arm64: FAILED: %s\n' "$*" >&2; exit "$EXIT_FAILED"; }
# The machine, not the project: say what is missing, loudly, with its own status.
cannot() {
    printf '\ncheck-arm64: CANNOT RUN: this machine cannot emulate arm64: %s\n' "$*" >&2
    printf 'check-arm64: nothing about the project was checked (docs/operations.md, "The arm64 check")\n\n' >&2
    exit "$EXIT_CANNOT"
}
trap 'printf "check-arm64: FAILED: the last step failed (exit %s)\n" "$?" >&2; exit 1' ERR

REPO_DIR=$(dirname "$SCRIPT_DIR")

SUITE=bookworm
ARCH=arm64
VARIANT=minbase
MIRROR=http://deb.debian.org/debian
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/hadir/arm64
FACES=${HADIR_FACES_DIR:-$(dirname "$REPO_DIR")/shared/faces}
KEEP=0
DRY_RUN=0
# Bump when the way the rootfs is made changes (the rest of the key is computed).
RECIPE_VERSION=1
# Packages of Raspberry Pi OS's own archive, which Debian does not have. The rootfs gets an
# empty stand-in package for each, with the Debian dependencies the real one brings into the
# system site-packages (picamera2 brings numpy 1.x and PIL), so install-edge.sh --platform pi
# runs unchanged and builds the venv the Pi gets. The stand-ins are not the real thing: the
# camera and GPIO libraries themselves are not checked here.
STANDINS="python3-picamera2:python3-numpy,python3-pil python3-lgpio: rpicam-apps-lite:"
# What the check feeds in, below --faces.
FACE_FILES=(
    people/barack_obama/obama.jpg
    people/joe_biden/biden.jpg
    people/lin_manuel_miranda/lmm1.png
    scenes/two_people.jpg
    scenes/kit_with_rose.jpg
    video/short_hamilton_clip.mp4
)

while [ $# -gt 0 ]; do
    opt=$1
    value=""
    case $opt in
        --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
        --cache-dir|--faces|--mirror)
            [ $# -ge 2 ] || usage_error "$opt needs a value"
            value=$2; shift ;;
    esac
    case $opt in
        --cache-dir) CACHE_DIR=$value ;;
        --faces) FACES=$value ;;
        --mirror) MIRROR=$value ;;
        --keep) KEEP=1 ;;
        --dry-run) DRY_RUN=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
    shift
done
[ -n "$CACHE_DIR" ] || usage_error "--cache-dir must not be empty"
[[ $MIRROR =~ ^https?://[^[:space:]]+$ ]] || usage_error "--mirror must be an http:// or https:// URL"
CACHE_DIR=${CACHE_DIR%/}

# ---------------------------------------------------------------------------------------
# Helpers beyond scripts/_lib.sh's (every change goes through its run, which prints it and
# skips it on --dry-run).

elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

WORK=""
ROOTFS=""
MOUNTS=()

# Unmount in reverse order; "umount -l" for one that is still busy (a process of the check
# that outlived it). Then, and only when nothing is mounted below it, remove the work dir:
# an rm -rf through a live /dev or /proc bind would reach the host's.
unmount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        if [ "$DRY_RUN" -eq 1 ]; then
            printf '+ umount %s\n' "${MOUNTS[i]}"
        else
            umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
        fi
    done
    MOUNTS=()
}
still_mounted() {  # any mount point below $1
    awk -v root="$1/" 'index($2 "/", root) == 1 { found = 1 } END { exit !found }' /proc/mounts
}
cleanup() {
    local status=$?
    trap - ERR
    [ "$DRY_RUN" -eq 1 ] && return
    unmount_all
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if still_mounted "$WORK"; then
            printf 'check-arm64: warning: something is still mounted below %s: left in place\n' "$WORK" >&2
        elif [ "$KEEP" -eq 1 ]; then
            say "kept $WORK (the arm64 system: $WORK/rootfs; logs: $WORK/*.log)"
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
}
trap cleanup EXIT

mount_into() {  # mount_into ARGS... TARGET: mount, and remember TARGET for cleanup
    local target=${*: -1}
    run mkdir -p "$target"
    run mount "$@"
    MOUNTS+=("$target")
}

# A command in the arm64 system, with a clean environment as a login on the Pi would have it,
# plus the host's proxy settings. PIP_CERT: pip uses its own CA bundle, not the system's
# (which mount_system makes the host's), unless told.
ARM64_ENV=(HOME=/root LANG=C.UTF-8 TERM=dumb PIP_CERT=/etc/ssl/certs/ca-certificates.crt
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -z "${!var:-}" ] || ARM64_ENV+=("$var=${!var}")
done
in_arm64() {
    run chroot "$ROOTFS" /usr/bin/env -i "${ARM64_ENV[@]}" "$@"
}

# logged LOG COMMAND...: the command's output (pages of it: apt, pip) goes to LOG; when it
# fails, the end of LOG is shown and the status returned.
logged() {
    local log=$1 status=0
    shift
    printf '+ %s >> %s\n' "$(quote "$@")" "$log"
    [ "$DRY_RUN" -eq 0 ] || return 0
    "$@" >>"$log" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$log" >&2
        printf 'check-arm64: that step failed (exit %s); its whole log: %s\n' "$status" "$log" >&2
    fi
    return "$status"
}

mount_system() {
    mount_into -t proc proc "$ROOTFS/proc"
    mount_into -t sysfs sysfs "$ROOTFS/sys"
    mount_into --bind /dev "$ROOTFS/dev"
    # Python's multiprocessing (compileall -j 0) needs a POSIX shared-memory mount.
    mount_into -t tmpfs -o mode=1777,size=256m tmpfs "$ROOTFS/dev/shm"
    mount_into -t devpts -o newinstance,ptmxmode=0666 devpts "$ROOTFS/dev/pts"
    run cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
    # Trust what the host trusts: behind a TLS-inspecting proxy the host has the proxy's CA
    # in its bundle, and pip inside would otherwise fail with CERTIFICATE_VERIFY_FAILED.
    if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
        run cp -L /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
    fi
}

# ---------------------------------------------------------------------------------------
# What the rootfs holds: the OS packages install-edge.sh --platform pi asks for (read from
# its own dry run, so the two never disagree), with stand-ins for Raspberry Pi OS's own.

os_packages() {
    local root line
    root=$(mktemp -d)
    line=$(bash "$REPO_DIR/scripts/install-edge.sh" --dry-run --platform pi --root "$root" 2>/dev/null \
        | sed -n 's/^+ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends //p')
    rmdir "$root"
    [ -n "$line" ] || return 1
    printf '%s\n' "$line"
}

standin_deps() {  # the Depends of package $1's stand-in; fails when it has none
    local spec
    for spec in $STANDINS; do
        if [ "${spec%%:*}" = "$1" ]; then printf '%s\n' "${spec#*:}"; return 0; fi
    done
    return 1
}

# make_standin NAME DEPENDS DIR: an empty Architecture: all package, built with dpkg-deb.
make_standin() {
    local name=$1 depends=$2 dir=$3 tree
    tree=$(mktemp -d)
    mkdir -p "$tree/DEBIAN" "$tree/usr/share/doc/$name"
    {
        printf 'Package: %s\nVersion: 0~hadir.arm64.check\nArchitecture: all\n' "$name"
        printf 'Maintainer: hadir check-arm64 <nobody@localhost>\n'
        [ -z "$depends" ] || printf 'Depends: %s\n' "${depends//,/, }"
        printf 'Description: stand-in for the Raspberry Pi OS package %s\n' "$name"
        printf ' Not in Debian; made by scripts/check-arm64.sh so install-edge.sh --platform pi runs.\n'
    } >"$tree/DEBIAN/control"
    printf 'An empty stand-in made by hadir scripts/check-arm64.sh.\n' >"$tree/usr/share/doc/$name/README"
    dpkg-deb --root-owner-group --build "$tree" "$dir/$name.deb" >/dev/null
    rm -rf "$tree"
}

# ---------------------------------------------------------------------------------------

HOST_ARCH=$(dpkg --print-architecture 2>/dev/null) || HOST_ARCH=""
[ -n "$HOST_ARCH" ] || cannot "not a Debian-based host (no dpkg): Debian's qemu-user-static and debootstrap are needed"
package_line=$(os_packages) \
    || die "install-edge.sh --dry-run --platform pi named no OS packages to install (did its output change?)"
read -r -a PACKAGES <<<"$package_line"
DEBIAN_PACKAGES=(ca-certificates)
STANDIN_PACKAGES=()
for p in "${PACKAGES[@]}"; do
    if standin_deps "$p" >/dev/null; then STANDIN_PACKAGES+=("$p"); else DEBIAN_PACKAGES+=("$p"); fi
done
DEBOOTSTRAP_VERSION=$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null) || DEBOOTSTRAP_VERSION=none
# The key: everything that shapes the rootfs, and the month, so Debian's updates come in
# at least monthly. A different key is a different tarball; older ones are removed.
RECIPE="recipe $RECIPE_VERSION
$SUITE $ARCH $VARIANT $MIRROR
debootstrap $DEBOOTSTRAP_VERSION
packages ${DEBIAN_PACKAGES[*]}
standins $STANDINS
month $(date -u +%Y-%m)"
KEY=$(printf '%s\n' "$RECIPE" | sha256sum | cut -c1-16)
TARBALL=$CACHE_DIR/rootfs-$SUITE-$ARCH-$KEY.tar.zst
# pip's cache holds downloads and wheels by content hash: valid for any rootfs, one per
# interpreter and machine so that nothing of another platform is ever looked at.
PIP_CACHE=$CACHE_DIR/pip-$ARCH
# pip's cache stays empty behind a proxy that strips Cache-Control, and every run would fetch
# ~130 MB again (face_recognition_models is a 100 MB sdist). So the wheels the venv inside was
# made of are kept in a wheelhouse (scripts/wheelhouse.py) and the next install takes them with
# --no-index. The key: the project's requirements and the rootfs's key (interpreter, OS
# packages, month); a changed requirement is a new key, resolved and fetched fresh.
WHEELS_KEY=$(python3 "$SCRIPT_DIR/wheelhouse.py" key --pyproject "$REPO_DIR/pyproject.toml" "rootfs $KEY") \
    || die "scripts/wheelhouse.py could not read $REPO_DIR/pyproject.toml (above)"
WHEELS=$CACHE_DIR/wheels-$ARCH-$WHEELS_KEY
WHEELS_INSIDE=/var/cache/hadir-wheels

say "arm64 check of $(quote "$REPO_DIR") in emulated Debian $SUITE $ARCH$([ "$DRY_RUN" -eq 1 ] && printf ', dry run: nothing is changed')"
say "OS packages (from install-edge.sh --platform pi): ${DEBIAN_PACKAGES[*]}"
say "stand-ins for Raspberry Pi OS packages: ${STANDIN_PACKAGES[*]:-none}"
say "cache: $TARBALL ($([ -f "$TARBALL" ] && echo present || echo 'absent: debootstrap, several minutes'))"
say "pip cache: $PIP_CACHE"
say "wheelhouse: $WHEELS ($([ -f "$WHEELS/complete" ] && echo 'complete: pip installs with --no-index' || echo 'not complete: pip installs from the index, then fills it'))"
say "faces: $FACES"

# ---------------------------------------------------------------------------------------
step "preflight"

START=$SECONDS
missing_faces=()
for f in "${FACE_FILES[@]}"; do [ -f "$FACES/$f" ] || missing_faces+=("$f"); done
if [ ${#missing_faces[@]} -gt 0 ]; then
    die "the face data is missing from $FACES: ${missing_faces[*]} (put the shared faces there, set HADIR_FACES_DIR or pass --faces)"
fi
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    cannot "it needs root (debootstrap, mount, chroot): sudo $0"
fi

tools=()
command -v debootstrap >/dev/null || tools+=(debootstrap)
command -v zstd >/dev/null || tools+=(zstd)
QEMU_ENTRY=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ "$HOST_ARCH" != arm64 ] && ! [ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]; then
    tools+=(qemu-user-static)
fi
if [ ${#tools[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null; then cannot "no apt-get to install ${tools[*]}"; fi
    run apt-get update -qq || cannot "apt-get update failed: ${tools[*]} cannot be installed"
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" \
        || cannot "apt-get could not install ${tools[*]}"
else
    printf '= debootstrap, zstd%s\n' "$([ "$HOST_ARCH" = arm64 ] || printf ', qemu-user-static')"
fi

if [ "$HOST_ARCH" = arm64 ]; then
    printf '= the host is arm64: no emulation needed\n'
else
    # The kernel runs aarch64 binaries through qemu only with a registered binfmt_misc handler.
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        run mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
            || cannot "/proc/sys/fs/binfmt_misc is not mounted and mounting it failed (a container without privileges? run this on a VM, or the container with --privileged)"
    fi
    if [ ! -e "$QEMU_ENTRY" ] && command -v update-binfmts >/dev/null; then
        run update-binfmts --enable qemu-aarch64 || true
    fi
    if [ ! -e "$QEMU_ENTRY" ]; then
        # Without binfmt-support: register qemu-user-static's systemd-binfmt line ourselves.
        conf=/usr/lib/binfmt.d/qemu-aarch64.conf
        [ -r "$conf" ] || [ "$DRY_RUN" -eq 1 ] || cannot "no qemu-aarch64 handler to register ($conf is missing: is qemu-user-static installed?)"
        printf '+ cat %s > /proc/sys/fs/binfmt_misc/register\n' "$conf"
        if [ "$DRY_RUN" -eq 0 ]; then
            cat "$conf" >/proc/sys/fs/binfmt_misc/register \
                || cannot "the kernel refused to register the qemu-aarch64 handler ($conf)"
        fi
    fi
    if [ "$DRY_RUN" -eq 0 ]; then
        [ "$(head -n1 "$QEMU_ENTRY")" = enabled ] || cannot "the qemu-aarch64 handler is registered but disabled (echo 1 > $QEMU_ENTRY)"
        # F: the kernel opens the interpreter now, so it need not exist inside the chroot.
        grep -q '^flags:.*F' "$QEMU_ENTRY" \
            || cannot "the qemu-aarch64 handler lacks the F (fix binary) flag, so it cannot run inside a chroot; re-register it from qemu-user-static: echo -1 > $QEMU_ENTRY; update-binfmts --enable qemu-aarch64"
        printf '= %s: %s\n' "$QEMU_ENTRY" "$(sed -n 's/^interpreter //p' "$QEMU_ENTRY") ($(sed -n 's/^flags: //p' "$QEMU_ENTRY"))"
    fi
fi

if [ "$DRY_RUN" -eq 1 ]; then
    WORK=/var/tmp/hadir-arm64.XXXXXX
else
    WORK=$(mktemp -d /var/tmp/hadir-arm64.XXXXXX)
fi
ROOTFS=$WORK/rootfs
say "work directory: $WORK"

# ---------------------------------------------------------------------------------------
step "arm64 Debian $SUITE"

T=$SECONDS
if [ -f "$TARBALL" ]; then
    run mkdir -p "$ROOTFS"
    run tar --numeric-owner -xpf "$TARBALL" -C "$ROOTFS" --zstd
    say "rootfs from the cache ($(elapsed "$T"))"
else
    run mkdir -p "$ROOTFS" "$CACHE_DIR"
    # Several minutes under emulation: every package's maintainer scripts run through qemu.
    if ! logged "$WORK/debootstrap.log" debootstrap --arch="$ARCH" --variant="$VARIANT" \
        --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR"; then
        if grep -q 'Exec format error\|cannot execute binary' "$WORK/debootstrap.log"; then
            cannot "arm64 binaries do not run here although a qemu-aarch64 handler is registered (see above)"
        fi
        die "debootstrap failed (above)"
    fi
    say "debootstrap done ($(elapsed "$T"))"
    mount_system
    debs=$ROOTFS/var/cache/hadir-standins
    run mkdir -p "$debs"
    CHROOT=(chroot "$ROOTFS" /usr/bin/env -i "${ARM64_ENV[@]}" DEBIAN_FRONTEND=noninteractive)
    logged "$WORK/apt.log" "${CHROOT[@]}" apt-get update || die "apt-get update failed in the arm64 system (above)"
    for p in "${STANDIN_PACKAGES[@]}"; do
        printf '+ make_standin %s  # Depends: %s\n' "$p" "$(standin_deps "$p")"
        [ "$DRY_RUN" -eq 1 ] || make_standin "$p" "$(standin_deps "$p")" "$debs"
    done
    standin_paths=()
    for p in "${STANDIN_PACKAGES[@]}"; do standin_paths+=("/var/cache/hadir-standins/$p.deb"); done
    logged "$WORK/apt.log" "${CHROOT[@]}" apt-get install -y --no-install-recommends \
        "${DEBIAN_PACKAGES[@]}" "${standin_paths[@]}" \
        || die "the OS packages could not be installed in the arm64 system (above)"
    in_arm64 apt-get clean
    run rm -rf "$ROOTFS/var/lib/apt/lists" "$ROOTFS/etc/resolv.conf"
    run mkdir -p "$ROOTFS/var/lib/apt/lists/partial"
    unmount_all
    # Written under a temporary name and renamed: a run that stops half way leaves no
    # truncated tarball behind for the next one to trust.
    run tar --numeric-owner -cpf "$TARBALL.part" -C "$ROOTFS" --zstd .
    run mv "$TARBALL.part" "$TARBALL"
    for old in "$CACHE_DIR"/rootfs-*.tar.zst; do
        [ -e "$old" ] && [ "$old" != "$TARBALL" ] && run rm -f "$old"
    done
    say "rootfs with OS packages cached as $TARBALL ($(elapsed "$T"))"
fi

mount_system
printf '+ chroot %s uname -m  # emulation works\n' "$ROOTFS"
if [ "$DRY_RUN" -eq 0 ]; then
    machine=$(chroot "$ROOTFS" /bin/uname -m 2>&1) || cannot "arm64 binaries do not run: $machine"
    [ "$machine" = aarch64 ] || cannot "the arm64 system reports machine '$machine', not aarch64"
    printf '= %s\n' "$machine"
fi

# ---------------------------------------------------------------------------------------
step "the source and the face data, copied in"

# The working tree as it is (uncommitted changes too), without what is local to this machine.
printf '+ tar -C %s ... | tar -C %s -x\n' "$REPO_DIR" "$ROOTFS/src"
if [ "$DRY_RUN" -eq 0 ]; then
    mkdir -p "$ROOTFS/src"
    tar -C "$REPO_DIR" --exclude-vcs --exclude=./.venv --exclude=__pycache__ --exclude='*.egg-info' \
        --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache --exclude=.hypothesis \
        --exclude=.schemathesis --exclude=./build --exclude=./dist --exclude=./test-output \
        --exclude=./hadir-data -cf - . | tar -C "$ROOTFS/src" -xf -
fi
for f in "${FACE_FILES[@]}"; do
    run install -D -m 0644 "$FACES/$f" "$ROOTFS/faces/$f"
done
run mkdir -p "$PIP_CACHE"
mount_into --bind "$PIP_CACHE" "$ROOTFS/root/.cache/pip"
run mkdir -p "$WHEELS"
mount_into --bind "$WHEELS" "$ROOTFS$WHEELS_INSIDE"

# ---------------------------------------------------------------------------------------
step "install-edge.sh --platform pi, inside"

install_edge() {  # install_edge [VAR=VALUE...]: install-edge.sh with these in its environment
    logged "$WORK/install.log" chroot "$ROOTFS" /usr/bin/env -i "${ARM64_ENV[@]}" "$@" \
        bash /src/scripts/install-edge.sh --platform pi --device-id arm64-check
}
T=$SECONDS
if [ -f "$WHEELS/complete" ]; then
    # A wheelhouse that no longer fits (pip's choice changed with install-edge.sh) costs one
    # install from the index, never the check: install-edge.sh finishes what it started.
    if ! install_edge PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELS_INSIDE"; then
        say "warning: the install from the wheelhouse failed (above): again, from the index"
        run rm -f "$WHEELS/complete"
        install_edge || die "install-edge.sh failed in the arm64 system (above)"
    fi
else
    install_edge || die "install-edge.sh failed in the arm64 system (above)"
fi
# Its steps, without pip's pages: what it did and what it found done.
[ "$DRY_RUN" -eq 1 ] || grep -E '^(== |= |\+ |install-edge: )' "$WORK/install.log" | sed 's/^/  /'
say "installed ($(elapsed "$T"))"
if [ ! -f "$WHEELS/complete" ]; then
    # Once per key: what the venv holds (read from the host, no emulated Python), and the
    # build backend, fetched as wheels into the wheelhouse. A failure here costs the next run
    # an install from the index, not this check.
    T=$SECONDS
    need=()
    backend=()
    listed=0
    site=$(compgen -G "$ROOTFS/opt/hadir/venv/lib/python3*/site-packages" | head -n1 || true)
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '+ python3 %s missing %s %s\n' "$SCRIPT_DIR/wheelhouse.py" "${site:-$ROOTFS/opt/hadir/venv/lib/python3.X/site-packages}" "$WHEELS"
        need=("NAME==VERSION...")
        listed=1
    elif [ -n "$site" ] && missing=$(python3 "$SCRIPT_DIR/wheelhouse.py" missing "$site" "$WHEELS"); then
        [ -z "$missing" ] || mapfile -t need <<<"$missing"
        listed=1
    fi
    build=$(python3 "$SCRIPT_DIR/wheelhouse.py" build --pyproject "$REPO_DIR/pyproject.toml") || build=""
    [ -z "$build" ] || mapfile -t backend <<<"$build"
    PIP_WHEEL=(chroot "$ROOTFS" /usr/bin/env -i "${ARM64_ENV[@]}"
        /opt/hadir/venv/bin/pip wheel --disable-pip-version-check -w "$WHEELS_INSIDE")
    # What the venv holds, one by one; the build backend with its dependencies (wheel needs
    # packaging, which the venv need not hold). --use-pep517: bookworm's pip would build an
    # sdist (face_recognition_models) with "setup.py bdist_wheel", which needs the wheel
    # package in the venv; in an isolated build it brings its own.
    if [ "$listed" -eq 1 ] && [ ${#backend[@]} -gt 0 ] \
        && { [ ${#need[@]} -eq 0 ] || logged "$WORK/wheels.log" "${PIP_WHEEL[@]}" --use-pep517 --no-deps "${need[@]}"; } \
        && logged "$WORK/wheels.log" "${PIP_WHEEL[@]}" "${backend[@]}"; then
        run touch "$WHEELS/complete"
        for old in "$CACHE_DIR"/wheels-"$ARCH"-*; do
            [ -e "$old" ] && [ "$old" != "$WHEELS" ] && run rm -rf "$old"
        done
        say "wheelhouse filled ($(elapsed "$T"))"
    else
        say "warning: the wheelhouse could not be filled (above): the next run installs from the index"
    fi
fi

# ---------------------------------------------------------------------------------------
step "the check, inside: hadir identify, and a replay through hadir edge run"

T=$SECONDS
status=0
in_arm64 /opt/hadir/venv/bin/python /src/scripts/arm64_check.py --faces /faces --work /tmp/arm64-check \
    || status=$?
say "checked ($(elapsed "$T"); all $(elapsed "$START"))"
if [ "$DRY_RUN" -eq 1 ]; then
    say "dry run: nothing was done"
elif [ "$status" -ne 0 ]; then
    die "the arm64 build gave wrong answers or failed (above)"
else
    say "PASSED: on arm64, identify named the right people and the replay recorded the right event"
fi
