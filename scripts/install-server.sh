#!/usr/bin/env bash
# Install or update the hadir sync server: OS packages, the virtualenv in /opt/hadir/venv
# (with the "server" extra), /etc/hadir/server.toml (only if absent), the admin token
# (generated once), optionally a local PostgreSQL, the systemd unit, and the database
# migrations. Idempotent: every step checks before it acts, so running it again converges
# (and is how a server is upgraded: --source NEW). --dry-run prints every step
# ("+ command") and changes nothing. See docs/operations.md.
set -Eeuo pipefail
PROG=install-server
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=_lib.sh source-path=SCRIPTDIR
. "$SCRIPT_DIR/_lib.sh"
stop_on_error

usage() {
    cat <<'EOF'
usage: install-server.sh [options]

Install or update the hadir sync server on this machine (run as root).

  --source DIR|WHEEL|SPEC   what to pip-install (with the [server] extra): a source tree, a
                            wheel file, or a PyPI requirement such as "hadir==1.2.0"
                            (default: the repository this script lives in)
  --postgres URL            use this PostgreSQL database (postgresql+psycopg://user@host/db);
                            a URL with a password goes to /etc/hadir/server.env (root, 0600),
                            not to the world-readable server.toml
  --with-postgres           install PostgreSQL from the OS and create the role "hadir-server"
                            (peer authentication: the service's user name) and database "hadir"
  --listen HOST:PORT        address for a new server.toml (default 127.0.0.1:8600; terminals
                            on other machines need 0.0.0.0 or a reverse proxy in front)
  --timezone ZONE           site_timezone for a new server.toml, an IANA zone such as
                            Asia/Jakarta (WIB), Asia/Makassar (WITA) or Asia/Jayapura (WIT);
                            reports count days and lateness on its clock and every admin page
                            shows it (default: asked at a terminal, else the system's zone)
  --python PYTHON           interpreter for the venv (default: /usr/bin/python3; 3.11 or newer)
  --unit FILE               unit file to install (default: systemd/hadir-server.service next
                            to this script)
  --start                   start (or restart) hadir-server at the end; default: enable only
  --dry-run                 print every step, change nothing (no root needed)
  --print-config            print the server.toml this run would write, and exit
  --root DIR                with --dry-run: look for existing files under DIR (tests)
  -h, --help                this text

An existing /etc/hadir/server.toml is never overwritten. Exit status: 0 done, 1 a step
failed, 2 usage error.
EOF
}

REPO_DIR=$(dirname "$SCRIPT_DIR")

SOURCE=""
POSTGRES_URL=""
WITH_POSTGRES=0
LISTEN=127.0.0.1:8600
TIMEZONE=""
PYTHON=/usr/bin/python3
UNIT_SRC=""
START=0
DRY_RUN=0
PRINT_CONFIG=0
ROOT=""

while [ $# -gt 0 ]; do
    opt=$1
    value=""
    case $opt in
        --*=*) value=${opt#*=}; opt=${opt%%=*} ;;
        --source|--postgres|--listen|--timezone|--python|--unit|--root)
            [ $# -ge 2 ] || usage_error "$opt needs a value"
            value=$2; shift ;;
    esac
    case $opt in
        --source) SOURCE=$value ;;
        --postgres) POSTGRES_URL=$value ;;
        --with-postgres) WITH_POSTGRES=1 ;;
        --listen) LISTEN=$value ;;
        --timezone) TIMEZONE=$value ;;
        --python) PYTHON=$value ;;
        --unit) UNIT_SRC=$value ;;
        --root) ROOT=${value%/} ;;
        --start) START=1 ;;
        --dry-run) DRY_RUN=1 ;;
        --print-config) PRINT_CONFIG=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1" ;;
    esac
    shift
done

if [ -n "$ROOT" ] && [ "$DRY_RUN" -eq 0 ] && [ "$PRINT_CONFIG" -eq 0 ]; then
    usage_error "--root is for tests and needs --dry-run"
fi
if [ -n "$POSTGRES_URL" ] && [ "$WITH_POSTGRES" -eq 1 ]; then
    usage_error "--postgres URL and --with-postgres exclude each other"
fi
if [ -n "$POSTGRES_URL" ] && ! [[ $POSTGRES_URL =~ ^postgresql(\+psycopg)?://[^[:space:]]+$ ]]; then
    usage_error "--postgres must be a postgresql+psycopg:// (or postgresql://) URL"
fi
[[ $LISTEN =~ ^([^:[:space:]\"\\]+):([0-9]{1,5})$ ]] || usage_error "--listen must be HOST:PORT"
LISTEN_HOST=${BASH_REMATCH[1]}
LISTEN_PORT=${BASH_REMATCH[2]}
if [ "$LISTEN_PORT" -lt 1 ] || [ "$LISTEN_PORT" -gt 65535 ]; then usage_error "--listen: port 1-65535"; fi
if [ -n "$TIMEZONE" ] && ! [[ $TIMEZONE =~ ^[A-Za-z0-9/_+-]+$ ]]; then
    usage_error "--timezone must be an IANA zone name such as Africa/Cairo"
fi

# ---------------------------------------------------------------------------------------
# Helpers beyond scripts/_lib.sh's.

# The local cluster the --with-postgres URL reaches: the socket in /var/run/postgresql, port
# 5432 (the URL names no port). Under --root a plain file stands in for the socket.
PG_SOCKET_DIR=/var/run/postgresql
pg_running() {
    if [ -n "$ROOT" ]; then
        [ -e "$ROOT$PG_SOCKET_DIR/.s.PGSQL.5432" ]
    else
        command -v pg_isready >/dev/null && pg_isready -q -h "$PG_SOCKET_DIR" -p 5432 2>/dev/null
    fi
}

# pg_cluster: "VERSION NAME" of the Debian cluster configured for port 5432, if any.
pg_cluster() {
    local conf port dir
    for conf in "$ROOT"/etc/postgresql/*/*/postgresql.conf; do
        [ -f "$conf" ] || continue
        port=$(sed -n 's/^[[:space:]]*port[[:space:]]*=[[:space:]]*\([0-9]\{1,5\}\).*/\1/p' "$conf" | tail -n1)
        [ "${port:-5432}" = 5432 ] || continue
        dir=$(dirname "$conf")
        printf '%s %s\n' "$(basename "$(dirname "$dir")")" "$(basename "$dir")"
        return 0
    done
    return 1
}

# Why this run cannot ask the cluster what exists ("" when it can): a dry run as a normal
# user (only root may become postgres), under --root, or before PostgreSQL runs.
pg_blind() {
    if [ -n "$ROOT" ]; then echo "--root: this machine's cluster is not consulted"
    elif [ "$(id -u)" -ne 0 ]; then echo "not root: this dry run cannot ask PostgreSQL"
    elif ! command -v psql >/dev/null || ! pg_running; then echo "PostgreSQL is not running yet"
    fi
}

# pg_has role|database NAME: yes, no, or unknown (see pg_blind).
pg_has() {
    local sql out
    case $1 in
        role) sql="SELECT 1 FROM pg_roles WHERE rolname = '$2'" ;;
        *) sql="SELECT 1 FROM pg_database WHERE datname = '$2'" ;;
    esac
    if [ -n "$(pg_blind)" ]; then echo unknown; return 0; fi
    if out=$(runuser -u postgres -- psql -XtAqc "$sql" 2>/dev/null); then
        if [ "$out" = 1 ]; then echo yes; else echo no; fi
    else
        echo unknown
    fi
}

# run_if_missing FOUND WHAT CMD...: FOUND is pg_has's answer. "no": run CMD; "unknown": a
# dry run shows CMD with the reason it cannot tell, a real run runs it (loudly, if it fails).
run_if_missing() {
    local found=$1 what=$2
    shift 2
    case $found in
        yes) have "$what" ;;
        no) run "$@" ;;
        *)
            if [ "$DRY_RUN" -eq 1 ]; then
                printf '+ %s  # only if %s is missing; unknown here (%s)\n' "$(quote "$@")" "$what" "$(pg_blind)"
            else
                run "$@"
            fi
            ;;
    esac
}

# Python: the package apt installs it from when it is missing ("" when apt cannot).
PY_PKG=$(python_package)

# The database_url of an existing server.toml ("" when unset or unreadable).
config_database_url() {
    "$PYTHON" - "$CONFIG" 2>/dev/null <<'PY' || true
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get("database_url", ""))
PY
}

# The site's time zone must be one the server's Python knows (zoneinfo: the system's tz
# database or the tzdata package): a typo would stop the server at its first start instead.
zone_known() {
    if "$PYTHON" -c 'import sys, zoneinfo; zoneinfo.ZoneInfo(sys.argv[1])' "$1" 2>/dev/null; then
        return 0
    fi
    # No Python yet (a later step installs it): the system's tz database, when there is one.
    [ -f "/usr/share/zoneinfo/$1" ] || { ! "$PYTHON" -c '' 2>/dev/null && ! [ -d /usr/share/zoneinfo ]; }
}

if [ -n "$TIMEZONE" ]; then
    zone_known "$TIMEZONE" || usage_error "--timezone $TIMEZONE: not a known IANA time zone \
(e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)"
else
    detected=$(detect_timezone)
    zone_known "$detected" || detected=UTC
    if [ -t 0 ] && [ "$DRY_RUN" -eq 0 ] && [ "$PRINT_CONFIG" -eq 0 ]; then
        # Asked only at a terminal: a scripted install takes the system's zone (or --timezone).
        while :; do
            read -r -p "Site time zone (Asia/Jakarta, Asia/Makassar, Asia/Jayapura, ...) [$detected]: " TIMEZONE
            TIMEZONE=${TIMEZONE:-$detected}
            if [[ $TIMEZONE =~ ^[A-Za-z0-9/_+-]+$ ]] && zone_known "$TIMEZONE"; then break; fi
            printf '%s: not a known IANA time zone\n' "$TIMEZONE" >&2
        done
    else
        TIMEZONE=$detected
    fi
fi

# ---------------------------------------------------------------------------------------
# The database URL and where it is kept.

PG_ROLE=hadir-server   # = User= of the unit: the name peer authentication sees
PG_DB=hadir
DB_URL_IN_ENV=0
if [ "$WITH_POSTGRES" -eq 1 ]; then
    # No host name: the local socket, where peer authentication applies. The socket folder
    # is explicit: psycopg's bundled libpq may look in /tmp, Debian's server is not there.
    DATABASE_URL="postgresql+psycopg://$PG_ROLE@/$PG_DB?host=/var/run/postgresql"
elif [ -n "$POSTGRES_URL" ]; then
    DATABASE_URL=$POSTGRES_URL
    # user:password@ -> a secret: not in the world-readable server.toml.
    [[ $POSTGRES_URL =~ ^[^:]+://[^/@]*:[^/@]*@ ]] && DB_URL_IN_ENV=1
else
    # Absolute: the same file for the service and for "hadir server ..." run from a shell.
    DATABASE_URL="sqlite:////var/lib/hadir-server/hadir-server.db"
fi

server_template() {
    cat <<'EOF'
# hadir server configuration, written once by scripts/install-server.sh. The installer
# never overwrites this file: edit it freely. Every key and its default:
# docs/configuration.md. Check it with
#   /opt/hadir/venv/bin/hadir config check --role server /etc/hadir/server.toml
#
# World-readable (0644; the service runs as a user systemd makes up at each start), so no
# secrets here: the admin token is /etc/hadir/admin_token (root, 0600), handed to the
# server by systemd as the credential "admin_token" (LoadCredential=).

EOF
    if [ "$DB_URL_IN_ENV" -eq 1 ]; then
        printf '# database_url: HADIR_DATABASE_URL in /etc/hadir/server.env (root, 0600): it has a password.\n'
    else
        printf 'database_url = %s\n' "$(toml_str "$DATABASE_URL")"
    fi
    printf 'site_timezone = %s\n\n[listen]\n' "$(toml_str "$TIMEZONE")"
    printf 'host = %s                # 0.0.0.0: every interface; better a TLS proxy in front\n' \
        "$(toml_str "$LISTEN_HOST")"
    printf 'port = %s\n' "$LISTEN_PORT"
}

if [ "$PRINT_CONFIG" -eq 1 ]; then
    server_template
    exit 0
fi

# ---------------------------------------------------------------------------------------
# Paths (below --root DIR for tests).

ETC_DIR=$ROOT/etc/hadir
CONFIG=$ETC_DIR/server.toml
ADMIN_TOKEN=$ETC_DIR/admin_token
SERVER_ENV=$ETC_DIR/server.env
OPT_DIR=$ROOT/opt/hadir
VENV=$OPT_DIR/venv
UNIT_NAME=hadir-server.service
UNIT_DST=$ROOT/etc/systemd/system/$UNIT_NAME
DROPIN_DIR=$ROOT/etc/systemd/system/$UNIT_NAME.d
DROPIN=$DROPIN_DIR/10-database-env.conf
[ -n "$UNIT_SRC" ] || UNIT_SRC=$REPO_DIR/systemd/$UNIT_NAME
[ -n "$SOURCE" ] || SOURCE=$REPO_DIR

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "must run as root (sudo $0 ...); --dry-run shows the steps without root"
fi
[ -r "$UNIT_SRC" ] || die "unit file not found: $UNIT_SRC (use --unit FILE)"
if [ -d "$SOURCE" ]; then
    [ -f "$SOURCE/pyproject.toml" ] || die "--source $SOURCE: no pyproject.toml there"
    SOURCE=$(cd "$SOURCE" && pwd)
    SPEC="${SOURCE}[server]"
elif [[ $SOURCE == *.whl ]]; then
    [ -f "$SOURCE" ] || die "--source $SOURCE: no such wheel"
    SPEC="${SOURCE}[server]"
elif [[ $SOURCE =~ ^([A-Za-z0-9._-]+)(\[[^]]*\])?(.*)$ ]]; then
    # A PyPI requirement: the extra goes right after the name (hadir[server]==1.2.0).
    SPEC="${BASH_REMATCH[1]}[server]${BASH_REMATCH[3]}"
else
    usage_error "--source: not a directory, a wheel or a requirement: $SOURCE"
fi
command -v dpkg-query >/dev/null || die "this installer needs a Debian-based system (apt, dpkg)"

printf 'hadir server install%s\n' "$([ "$DRY_RUN" -eq 1 ] && printf ': dry run, nothing is changed')"

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
    preflight_fail "hadir needs Python 3.11+, $PYTHON is $PY_VERSION (pass --python)"
else
    have "$PYTHON is Python $PY_VERSION"
fi

# A --source older than what is installed: the database may already be at a schema the
# older version does not know, and migrations only go forward. Say so before anything changes.
OLD_VERSION=$(installed_version) || OLD_VERSION=""
NEW_VERSION=$(source_version) || NEW_VERSION=""
DOWNGRADE=""
if [ -n "$OLD_VERSION" ] && [ -n "$NEW_VERSION" ] && older "$NEW_VERSION" "$OLD_VERSION"; then
    DOWNGRADE="--source is hadir $NEW_VERSION, older than the installed $OLD_VERSION: a downgrade. \
If the database was migrated by $OLD_VERSION, hadir $NEW_VERSION refuses to start on it; schema \
migrations only go forward, so going back means restoring the backup taken before the upgrade \
(docs/operations.md, \"Downgrades\")"
    warn "$DOWNGRADE"
elif [ -n "$OLD_VERSION" ]; then
    have "installed: hadir $OLD_VERSION${NEW_VERSION:+; --source: $NEW_VERSION}"
fi

# ---------------------------------------------------------------------------------------
step "OS packages"

PYVENV_PKG=python3-venv
case $(basename "$PYTHON") in python3.[0-9]*) PYVENV_PKG="$(basename "$PYTHON")-venv" ;; esac
packages=("$PYVENV_PKG" sqlite3)
[ "$PY_LATER" -eq 0 ] || packages=("$PY_PKG" "${packages[@]}")
[ "$WITH_POSTGRES" -eq 0 ] || packages+=(postgresql)
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
    python_new_enough || die "hadir needs Python 3.11+, $PYTHON is $PY_VERSION (pass --python)"
    have "$PYTHON is Python $PY_VERSION"
fi

# ---------------------------------------------------------------------------------------
if [ "$WITH_POSTGRES" -eq 1 ]; then
    step "PostgreSQL role $PG_ROLE and database $PG_DB (peer authentication)"
    # The package starts its cluster "main" where systemd runs; in a container, an image
    # build or after "systemctl stop postgresql" it is down, and createuser would fail with
    # a bare socket error.
    if pg_running; then
        have "PostgreSQL runs on $PG_SOCKET_DIR, port 5432"
    elif cluster=$(pg_cluster); then
        read -r pg_version pg_name <<<"$cluster"
        if systemd_live; then
            run systemctl start "postgresql@$pg_version-$pg_name.service"
        else
            run pg_ctlcluster "$pg_version" "$pg_name" start
        fi
        if [ "$DRY_RUN" -eq 0 ]; then
            for _ in $(seq 30); do pg_running && break; sleep 1; done
            pg_running || die "PostgreSQL $pg_version/$pg_name did not start: see pg_lsclusters and \
journalctl -u postgresql@$pg_version-$pg_name (or /var/log/postgresql/)"
        fi
    elif [ "$DRY_RUN" -eq 1 ] && ! pkg_installed postgresql; then
        printf 'the postgresql package creates and starts the cluster "main" on port 5432\n'
    else
        preflight_fail "no PostgreSQL cluster on port 5432 (pg_lsclusters lists them): create \
one with: pg_createcluster --start VERSION main (the installed VERSION: ls /usr/lib/postgresql)"
    fi
    # No password, no superuser: Debian's pg_hba.conf lets the OS user of the same name in
    # through the local socket ("local all all peer").
    run_if_missing "$(pg_has role "$PG_ROLE")" "role $PG_ROLE" \
        runuser -u postgres -- createuser --no-superuser --no-createdb --no-createrole "$PG_ROLE"
    run_if_missing "$(pg_has database "$PG_DB")" "database $PG_DB" \
        runuser -u postgres -- createdb --owner "$PG_ROLE" "$PG_DB"
fi

# ---------------------------------------------------------------------------------------
step "virtualenv $VENV"

[ -d "$OPT_DIR" ] || run install -d -m 0755 "$OPT_DIR"
if [ ! -e "$VENV/pyvenv.cfg" ]; then
    run "$PYTHON" -m venv "$VENV"
elif ! "$VENV/bin/python" -c '' 2>/dev/null; then
    # The OS upgraded Python under it: the venv's interpreter link is dead.
    run "$PYTHON" -m venv --clear "$VENV"
else
    have "$VENV"
fi
# --upgrade: a newer hadir from --source; its dependencies only as far as it needs.
run "$VENV/bin/pip" install --disable-pip-version-check --upgrade "$SPEC"
# ProtectSystem=strict makes /opt read-only to the service: compile once, here.
run "$VENV/bin/python" -m compileall -q -j 0 "$VENV"
link_hadir

# ---------------------------------------------------------------------------------------
step "configuration $ETC_DIR"

[ -d "$ETC_DIR" ] || run install -d -m 0755 "$ETC_DIR"
if [ -e "$CONFIG" ]; then
    have "$CONFIG exists: left as it is"
    if [ -n "$POSTGRES_URL" ] && [ "$DB_URL_IN_ENV" -eq 0 ] || [ "$WITH_POSTGRES" -eq 1 ]; then
        if [ "$(config_database_url)" = "$DATABASE_URL" ]; then
            have "database_url in $CONFIG is $DATABASE_URL"
        else
            warn "database_url in $CONFIG is not changed: set it to $DATABASE_URL yourself"
        fi
    fi
else
    server_template | put_file 0644 root root "$CONFIG"
fi

if [ -e "$ADMIN_TOKEN" ]; then
    have "$ADMIN_TOKEN (kept; docs/operations.md says how to rotate it)"
else
    printf '+ %s | install -m 0600 -o root -g root /dev/stdin %s\n' \
        "$(quote "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))')" "$ADMIN_TOKEN"
    if [ "$DRY_RUN" -eq 0 ]; then
        "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' \
            | install -m 0600 -o root -g root /dev/stdin "$ADMIN_TOKEN"
    fi
fi

reload=0
if [ "$DB_URL_IN_ENV" -eq 1 ]; then
    # EnvironmentFile= syntax: double quotes, with \ " ` $ escaped.
    esc=$POSTGRES_URL
    esc=${esc//\\/\\\\}; esc=${esc//\"/\\\"}; esc=${esc//\`/\\\`}; esc=${esc//\$/\\\$}
    env_text="HADIR_DATABASE_URL=\"$esc\""
    if [ "$DRY_RUN" -eq 0 ] && [ -f "$SERVER_ENV" ] && [ "$(grep '^HADIR_DATABASE_URL=' "$SERVER_ENV")" = "$env_text" ]; then
        have "$SERVER_ENV"
    elif [ "$DRY_RUN" -eq 0 ] && [ -f "$SERVER_ENV" ]; then
        { grep -v '^HADIR_DATABASE_URL=' "$SERVER_ENV" || true; printf '%s\n' "$env_text"; } \
            | put_file 0600 root root "$SERVER_ENV" "HADIR_DATABASE_URL=<the --postgres URL>"
    else
        printf '%s\n' "$env_text" | put_file 0600 root root "$SERVER_ENV" "HADIR_DATABASE_URL=<the --postgres URL>"
    fi
    dropin_text="# Written by scripts/install-server.sh: the database URL holds a password, so it is
# kept in a root-only file instead of the world-readable server.toml.
[Service]
EnvironmentFile=/etc/hadir/server.env"
    if [ "$(cat "$DROPIN" 2>/dev/null || true)" = "$dropin_text" ]; then
        have "$DROPIN"
    else
        [ -d "$DROPIN_DIR" ] || run install -d -m 0755 "$DROPIN_DIR"
        printf '%s\n' "$dropin_text" | put_file 0644 root root "$DROPIN"
        reload=1
    fi
fi

run env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$VENV/bin/hadir" config check --role server "$CONFIG"

# ---------------------------------------------------------------------------------------
step "systemd unit $UNIT_NAME"

if cmp -s "$UNIT_SRC" "$UNIT_DST"; then
    have "$UNIT_DST is current"
else
    run install -m 0644 "$UNIT_SRC" "$UNIT_DST"
    reload=1
fi
if [ "$reload" -eq 1 ]; then
    if systemd_live; then run systemctl daemon-reload; else have "systemd not running here: no daemon-reload"; fi
fi
if unit_enabled "$UNIT_NAME"; then have "$UNIT_NAME enabled"; else run systemctl enable "$UNIT_NAME"; fi

# ---------------------------------------------------------------------------------------
step "database migrations"

# As the service runs: the same made-up user (owner of the SQLite file, and the name
# PostgreSQL's peer authentication sees), state directory and environment.
if systemd_live; then
    migrate=(systemd-run --quiet --wait --pipe --collect --service-type=exec
        --property=DynamicUser=yes --property=User=hadir-server
        --property=StateDirectory=hadir-server --property=WorkingDirectory=/var/lib/hadir-server)
    if [ "$DB_URL_IN_ENV" -eq 1 ] || [ -e "$SERVER_ENV" ]; then
        migrate+=(--property=EnvironmentFile=/etc/hadir/server.env)
    fi
    run "${migrate[@]}" /opt/hadir/venv/bin/hadir server migrate --config /etc/hadir/server.toml
else
    have "systemd not running here: the server migrates at its first start (migrate_on_start)"
fi

# ---------------------------------------------------------------------------------------
step "service"

if [ "$START" -eq 1 ] && systemd_live; then
    run systemctl restart "$UNIT_NAME"
elif [ "$START" -eq 1 ]; then
    warn "systemd is not running here: not started (it starts at boot)"
elif unit_active "$UNIT_NAME"; then
    printf 'hadir-server is running the previous version: systemctl restart hadir-server\n'
else
    have "enabled, not started (--start, or: systemctl start hadir-server)"
fi

# Checked from this machine: 0.0.0.0 listens on every interface, loopback among them.
CHECK_HOST=$LISTEN_HOST
case $CHECK_HOST in 0.0.0.0|::|'[::]') CHECK_HOST=127.0.0.1 ;; esac
cat <<EOF

Next:
  - the admin token: sudo cat /etc/hadir/admin_token (for HADIR_ADMIN_TOKEN or
    ~/.config/hadir/admin.toml on the admin's machine)
  - register terminals: hadir terminal add <device.id> > <device.id>.token; then
    install-edge.sh --token-file <device.id>.token (docs/operations.md, "Registering a terminal")
  - a login for the admin web (http://$LISTEN_HOST:$LISTEN_PORT/admin/), as the service user
    (docs/operations.md, "Admin web accounts"): hadir server add-admin <name>
  - is it up:
    python3 -c 'import urllib.request as u; print(u.urlopen("http://$CHECK_HOST:$LISTEN_PORT/readyz").read().decode())'
    journalctl -u hadir-server -f
EOF
[ -z "$DOWNGRADE" ] || warn "$DOWNGRADE"
