# shellcheck shell=bash
# Shared functions for scripts/start and scripts/test. Source it; don't run it.
#
#   ensure_toolchain      wasm32 target, cargo-leptos 0.3.5, wasm-bindgen-cli matching
#                         Cargo.lock, node_modules (npm ci); puts node_modules/.bin and
#                         ~/.cargo/bin on PATH.
#   ensure_wasm_opt       binaryen's wasm-opt (only release builds need it).
#   ensure_chromium       Debian's chromium at /usr/bin/chromium (the end-to-end tests).
#   ensure_wrk            the wrk HTTP load generator (the webhook benchmark).
#   ensure_speech         espeak-ng and lame: the local voice of voicemail drops when no
#                         ElevenLabs key is set (the demo's and the tests').
#   ensure_db_server      finds or starts a PostgreSQL server; sets TURNOUT_PG_SERVER
#                         (e.g. postgres://postgres@127.0.0.1:5432, no database part).
#   ensure_database NAME  exports DATABASE_URL: as given when already set, else NAME on
#                         the server found by ensure_db_server (created when missing).
#   db_url NAME / create_database NAME / recreate_database NAME
#                         helpers on that server (call ensure_db_server first).
#   stop_private_db       stops the private cluster that ensure_db_server may have started.
#
# Where the database comes from, in order:
#   1. DATABASE_URL, when set: used as is (its server is used for other databases).
#   2. A server on 127.0.0.1:5432 that lets user postgres in without a password (the
#      Debian cluster is started with pg_ctlcluster when it is installed but down).
#   3. A private cluster under ./data/pg on 127.0.0.1:5433 (TURNOUT_PG_PORT), made with
#      the newest /usr/lib/postgresql/*/bin/initdb and reused on later runs.
# TURNOUT_FORCE_PRIVATE_PG=1 skips step 2 (used to test step 3 on a machine that has a
# server on 5432; also handy to keep Turnout's data away from the system cluster).
# As root, the private cluster runs as the system user `postgres` when it exists, else as
# `turnout-pg` (created when missing); TURNOUT_PG_USER picks another. When that user cannot
# reach ./data (a checkout under /root), the cluster lives in /var/tmp/turnout-pg-<hash>.
#
# Every function prints short progress lines starting with "==>"; failures print a
# message to stderr and exit 1.

TURNOUT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

CARGO_LEPTOS_VERSION="0.3.5"
PG_LOCAL_HOST="127.0.0.1"
PG_LOCAL_PORT="5432"

say() { echo "==> $*"; }
warn() { echo "==> warning: $*" >&2; }
die() {
    echo "==> error: $*" >&2
    exit 1
}

# --- toolchain ---------------------------------------------------------------------------

_path_prepend() {
    case ":$PATH:" in
        *":$1:"*) ;;
        *) PATH="$1:$PATH" ;;
    esac
}

# The version of the wasm-bindgen crate in Cargo.lock.
wasm_bindgen_lock_version() {
    awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' \
        "$TURNOUT_ROOT/Cargo.lock"
}

ensure_toolchain() {
    _path_prepend "$HOME/.cargo/bin"
    _path_prepend "$TURNOUT_ROOT/node_modules/.bin"
    export PATH

    { command -v cargo >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; } ||
        die "cargo/rustup not found. Install Rust with rustup (https://rustup.rs), then run this again."
    command -v npm >/dev/null 2>&1 ||
        die "npm not found. Install Node.js 20 or newer (e.g. apt-get install nodejs npm), then run this again."

    if ! rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
        say "Adding the Rust target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown
    fi

    if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
        say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (builds from source, ~20 minutes)"
        cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
    fi

    if [ ! -f "$TURNOUT_ROOT/Cargo.lock" ]; then
        say "Cargo.lock is missing; generating it"
        (cd "$TURNOUT_ROOT" && cargo generate-lockfile)
    fi
    local wbg
    wbg="$(wasm_bindgen_lock_version)"
    [ -n "$wbg" ] || die "could not read the wasm-bindgen version from Cargo.lock"
    if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $wbg" ]; then
        say "Installing wasm-bindgen-cli $wbg (matches Cargo.lock; builds from source)"
        cargo install wasm-bindgen-cli --version "$wbg" --locked
    fi

    local nm="$TURNOUT_ROOT/node_modules"
    if [ ! -x "$nm/.bin/tailwindcss" ] || [ ! -e "$nm/.bin/playwright" ] ||
        [ "$TURNOUT_ROOT/package-lock.json" -nt "$nm" ]; then
        say "Installing npm packages (npm ci: Tailwind CSS CLI, Playwright)"
        (cd "$TURNOUT_ROOT" && npm ci --no-audit --no-fund)
        touch "$nm"
    fi
    say "Toolchain ready: $(cargo leptos --version), $(wasm-bindgen --version), tailwindcss $(_tailwind_version)"
}

_tailwind_version() {
    node -p 'require(process.argv[1]).version' "$TURNOUT_ROOT/node_modules/@tailwindcss/cli/package.json" 2>/dev/null || echo '?'
}

_apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || return 1
        sudo="sudo"
    fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}

ensure_wasm_opt() {
    command -v wasm-opt >/dev/null 2>&1 && return 0
    say "Installing wasm-opt (Debian package binaryen; release builds need it)"
    _apt_install binaryen || die "wasm-opt is missing. Install binaryen (apt-get install binaryen)."
}

ensure_chromium() {
    if [ ! -x /usr/bin/chromium ]; then
        say "Installing chromium (Debian package) for the end-to-end tests"
        _apt_install chromium || die "/usr/bin/chromium is missing. Install it (apt-get install chromium)."
    fi
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is still missing after installing chromium"
    say "Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
}

ensure_speech() {
    command -v espeak-ng >/dev/null 2>&1 && command -v lame >/dev/null 2>&1 && return 0
    say "Installing espeak-ng and lame (Debian packages): the local voice of voicemail drops"
    _apt_install espeak-ng lame || die "espeak-ng or lame is missing. Install them (apt-get install espeak-ng lame)."
}

ensure_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    say "Installing wrk (Debian package) for the webhook benchmark"
    _apt_install wrk || die "wrk is missing. Install it (apt-get install wrk)."
}

# --- PostgreSQL ----------------------------------------------------------------------------

# Newest /usr/lib/postgresql/<version>/bin, or nothing.
_pg_newest_bindir() {
    local initdb
    # shellcheck disable=SC2012 # version directories are plain numbers
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$initdb" ] && dirname "$initdb"
}

# Makes psql and pg_isready callable when only the server's bin directory has them.
_pg_client_path() {
    if ! command -v psql >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1; then
        local bindir
        bindir="$(_pg_newest_bindir || true)"
        if [ -n "$bindir" ]; then
            PATH="$PATH:$bindir"
            export PATH
        fi
    fi
}

# Runs a command as the cluster's owner (PostgreSQL refuses to run as root).
_pg_as() {
    local user="$1"
    shift
    if [ -n "$user" ]; then
        (cd / && runuser -u "$user" -- "$@")
    else
        "$@"
    fi
}

# Does psql get in to SERVER's postgres database without a password?
_pg_can_connect() {
    PGCONNECT_TIMEOUT=5 psql -w -X -q "$1/postgres" -tAc 'SELECT 1' >/dev/null 2>&1
}

# Starts the Debian cluster(s) on port 5432 when installed but down.
_pg_start_system_cluster() {
    [ -d /etc/postgresql ] || return 0
    command -v pg_ctlcluster >/dev/null 2>&1 || return 0
    local ver cluster port status _rest started=""
    if command -v pg_lsclusters >/dev/null 2>&1; then
        while read -r ver cluster port status _rest; do
            if [ "$port" = "$PG_LOCAL_PORT" ] && [ "$status" != "online" ]; then
                say "Starting the PostgreSQL $ver/$cluster cluster"
                pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start || true
                started=1
            fi
        done < <(pg_lsclusters -h 2>/dev/null || true)
    else
        local dir
        for dir in /etc/postgresql/*/main; do
            [ -d "$dir" ] || continue
            ver="$(basename "$(dirname "$dir")")"
            say "Starting the PostgreSQL $ver/main cluster"
            pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
            started=1
        done
    fi
    if [ -n "$started" ]; then
        local _
        for _ in $(seq 1 30); do
            pg_isready -q -h "$PG_LOCAL_HOST" -p "$PG_LOCAL_PORT" && return 0
            sleep 0.5
        done
    fi
}

# Sets _PG_DIR, _PG_LOG, _PG_USER for the private cluster without changing anything.
_pg_private_layout() {
    local hash fallback
    hash="$(printf '%s' "$TURNOUT_ROOT" | md5sum | cut -c1-8)"
    fallback="/var/tmp/turnout-pg-$hash"
    if [ -f "$TURNOUT_ROOT/data/pg/PG_VERSION" ] || [ ! -f "$fallback/pg/PG_VERSION" ]; then
        _PG_DIR="$TURNOUT_ROOT/data/pg"
        _PG_LOG="$TURNOUT_ROOT/data/pg.log"
    else
        _PG_DIR="$fallback/pg"
        _PG_LOG="$fallback/pg.log"
    fi
    _PG_FALLBACK="$fallback"
    _PG_USER=""
    if [ "$(id -u)" = 0 ]; then
        if [ -d "$_PG_DIR" ]; then
            _PG_USER="$(stat -c %U "$_PG_DIR")"
            [ "$_PG_USER" != root ] || _PG_USER=""
        fi
        if [ -z "$_PG_USER" ]; then
            if [ -n "${TURNOUT_PG_USER:-}" ]; then
                _PG_USER="$TURNOUT_PG_USER"
            elif id -u postgres >/dev/null 2>&1; then
                _PG_USER=postgres
            else
                _PG_USER=turnout-pg
            fi
        fi
    fi
}

# The bin directory matching an initialised data directory's version, else the newest.
_pg_bindir_for() {
    local v
    if [ -f "$1/PG_VERSION" ]; then
        v="$(cat "$1/PG_VERSION")"
        if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then
            echo "/usr/lib/postgresql/$v/bin"
            return 0
        fi
    fi
    _pg_newest_bindir
}

# Initialises (first time) and starts (when down) the private cluster; sets TURNOUT_PG_SERVER.
_pg_private() {
    local port="${TURNOUT_PG_PORT:-5433}" bindir
    bindir="$(_pg_newest_bindir || true)"
    [ -n "$bindir" ] || return 1
    _pg_private_layout
    bindir="$(_pg_bindir_for "$_PG_DIR")"

    if [ -n "$_PG_USER" ] && ! id -u "$_PG_USER" >/dev/null 2>&1; then
        say "Creating the system user $_PG_USER to run the private PostgreSQL cluster"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$_PG_USER" ||
            die "could not create the system user $_PG_USER"
    fi

    if [ ! -f "$_PG_DIR/PG_VERSION" ]; then
        mkdir -p "$(dirname "$_PG_DIR")"
        # The cluster's user must be able to reach the data directory; a checkout under
        # /root (mode 0700) is not reachable, so the cluster then lives under /var/tmp.
        if [ -n "$_PG_USER" ] && ! _pg_as "$_PG_USER" test -x "$(dirname "$_PG_DIR")"; then
            warn "$_PG_USER cannot reach $(dirname "$_PG_DIR"); putting the private cluster in $_PG_FALLBACK"
            _PG_DIR="$_PG_FALLBACK/pg"
            _PG_LOG="$_PG_FALLBACK/pg.log"
            mkdir -p "$_PG_FALLBACK"
            chmod 0755 "$_PG_FALLBACK"
        fi
        say "Initialising a private PostgreSQL cluster ($(basename "$(dirname "$bindir")")) in $_PG_DIR"
        rm -rf "$_PG_DIR"
        mkdir -p "$_PG_DIR"
        chmod 0700 "$_PG_DIR"
        [ -z "$_PG_USER" ] || chown "$_PG_USER:" "$_PG_DIR"
        _pg_as "$_PG_USER" "$bindir/initdb" -D "$_PG_DIR" --auth=trust -U postgres \
            --encoding=UTF8 --no-locale >/dev/null ||
            die "initdb failed for $_PG_DIR"
        cat >>"$_PG_DIR/postgresql.conf" <<EOF

# Added by Turnout's scripts/lib.sh: a private cluster reachable on loopback TCP only.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
synchronous_commit = off
max_connections = 200
EOF
    fi

    touch "$_PG_LOG"
    [ -z "$_PG_USER" ] || chown "$_PG_USER:" "$_PG_LOG"

    if _pg_as "$_PG_USER" "$bindir/pg_ctl" -D "$_PG_DIR" status >/dev/null 2>&1; then
        say "Private PostgreSQL cluster already running ($_PG_DIR)"
    else
        say "Starting the private PostgreSQL cluster on 127.0.0.1:$port (log: $_PG_LOG)"
        if ! _pg_as "$_PG_USER" "$bindir/pg_ctl" -D "$_PG_DIR" -l "$_PG_LOG" -w -t 60 \
            -o "-p $port" start >/dev/null; then
            tail -n 20 "$_PG_LOG" >&2 || true
            die "the private PostgreSQL cluster did not start (see $_PG_LOG)"
        fi
    fi
    TURNOUT_PG_SERVER="postgres://postgres@127.0.0.1:$port"
    _pg_can_connect "$TURNOUT_PG_SERVER" ||
        die "cannot connect to the private cluster at $TURNOUT_PG_SERVER (see $_PG_LOG)"
    return 0
}

# Stops the private cluster, if it runs. Leaves its data in place.
stop_private_db() {
    _pg_private_layout
    [ -f "$_PG_DIR/PG_VERSION" ] || return 0
    local bindir
    bindir="$(_pg_bindir_for "$_PG_DIR")"
    if _pg_as "$_PG_USER" "$bindir/pg_ctl" -D "$_PG_DIR" status >/dev/null 2>&1; then
        say "Stopping the private PostgreSQL cluster ($_PG_DIR)"
        _pg_as "$_PG_USER" "$bindir/pg_ctl" -D "$_PG_DIR" -w -m fast stop >/dev/null
    fi
}

# Splits DATABASE_URL into TURNOUT_PG_SERVER (scheme://authority) and TURNOUT_PG_QUERY.
_pg_server_from_url() {
    local url="$1" rest
    TURNOUT_PG_QUERY=""
    case "$url" in
        *\?*)
            TURNOUT_PG_QUERY="?${url#*\?}"
            url="${url%%\?*}"
            ;;
    esac
    rest="${url#*://}"
    TURNOUT_PG_SERVER="${url%%://*}://${rest%%/*}"
}

ensure_db_server() {
    [ -z "${TURNOUT_PG_SERVER:-}" ] || return 0
    TURNOUT_PG_QUERY=""
    _pg_client_path

    if [ -n "${DATABASE_URL:-}" ]; then
        _pg_server_from_url "$DATABASE_URL"
        say "Using the PostgreSQL server of DATABASE_URL"
    elif [ "${TURNOUT_FORCE_PRIVATE_PG:-}" != 1 ] && command -v pg_isready >/dev/null 2>&1 &&
        { pg_isready -q -h "$PG_LOCAL_HOST" -p "$PG_LOCAL_PORT" ||
            { _pg_start_system_cluster && pg_isready -q -h "$PG_LOCAL_HOST" -p "$PG_LOCAL_PORT"; }; } &&
        _pg_can_connect "postgres://postgres@$PG_LOCAL_HOST:$PG_LOCAL_PORT"; then
        TURNOUT_PG_SERVER="postgres://postgres@$PG_LOCAL_HOST:$PG_LOCAL_PORT"
        say "Using the PostgreSQL server on $PG_LOCAL_HOST:$PG_LOCAL_PORT"
    else
        if [ "${TURNOUT_FORCE_PRIVATE_PG:-}" = 1 ]; then
            say "TURNOUT_FORCE_PRIVATE_PG=1: not looking for a server on port $PG_LOCAL_PORT"
        fi
        _pg_private || die "PostgreSQL is not installed and no server answers on $PG_LOCAL_HOST:$PG_LOCAL_PORT.
    Install it (e.g. apt-get install postgresql) and run this again,
    or set DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/turnout to use another server."
    fi
    command -v psql >/dev/null 2>&1 ||
        die "psql not found. Install the PostgreSQL client (e.g. apt-get install postgresql-client)."
    export TURNOUT_PG_SERVER TURNOUT_PG_QUERY
}

_pg_check_name() {
    [[ "$1" =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad database name '$1' (use lower-case letters, digits, _)"
}

# The URL of database NAME on TURNOUT_PG_SERVER.
db_url() {
    echo "$TURNOUT_PG_SERVER/$1${TURNOUT_PG_QUERY:-}"
}

_psql_admin() {
    PGCONNECT_TIMEOUT=10 PGOPTIONS="-c client_min_messages=warning" \
        psql -w -X -q -v ON_ERROR_STOP=1 "$(db_url postgres)" "$@"
}

create_database() {
    _pg_check_name "$1"
    local exists
    exists="$(_psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'")" ||
        die "cannot query the PostgreSQL server at $TURNOUT_PG_SERVER"
    if [ "$exists" != 1 ]; then
        say "Creating database $1"
        _psql_admin -c "CREATE DATABASE \"$1\"" || die "could not create database $1"
    fi
}

recreate_database() {
    _pg_check_name "$1"
    say "Recreating database $1"
    _psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" || die "could not drop database $1"
    _psql_admin -c "CREATE DATABASE \"$1\"" || die "could not create database $1"
}

ensure_database() {
    local name="${1:?ensure_database needs a database name}"
    if [ -n "${DATABASE_URL:-}" ]; then
        say "Using DATABASE_URL from the environment"
        export DATABASE_URL
        return 0
    fi
    ensure_db_server
    create_database "$name"
    DATABASE_URL="$(db_url "$name")"
    export DATABASE_URL
    say "DATABASE_URL=$DATABASE_URL"
}
