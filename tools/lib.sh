# shellcheck shell=bash
# Shared setup for tools/run.sh and tools/test.sh: prepares the Odoo 18.0 runtime
# (source + virtualenv) in a cache outside the checkout, the Debian packages it needs,
# and a PostgreSQL that answers. Sourced, never run directly.
set -euo pipefail

PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${CEA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/crm_email_automation}"
ODOO_DIR="$CACHE_DIR/odoo-18.0"
VENV_DIR="$CACHE_DIR/venv"
MAILDUMP_VENV_DIR="$CACHE_DIR/maildump-venv"
SCHEMATHESIS_VENV_DIR="$CACHE_DIR/schemathesis-venv"
ODOO_GIT_URL="${ODOO_GIT_URL:-https://github.com/odoo/odoo.git}"
DEBIAN_PACKAGES=(libldap2-dev libsasl2-dev chromium)

say() { printf '\033[1m[crm_email_automation]\033[0m %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

ensure_debian_packages() {
    command -v dpkg-query >/dev/null || { say "not a Debian system: install ${DEBIAN_PACKAGES[*]} yourself"; return; }
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
    fi
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_odoo_source() {
    [ -f "$ODOO_DIR/odoo-bin" ] && return
    mkdir -p "$CACHE_DIR"
    if [ -n "${ODOO_SRC:-}" ]; then
        [ -f "$ODOO_SRC/odoo-bin" ] || die "ODOO_SRC=$ODOO_SRC is not an Odoo checkout (no odoo-bin)"
        say "copying Odoo source from ODOO_SRC into the cache $ODOO_DIR"
        rsync -a --delete --exclude .git "$ODOO_SRC/" "$ODOO_DIR.partial/"
    else
        say "no ODOO_SRC given: cloning Odoo 18.0 from $ODOO_GIT_URL"
        rm -rf "$ODOO_DIR.partial"
        if ! git clone -q --depth 1 --branch 18.0 "$ODOO_GIT_URL" "$ODOO_DIR.partial"; then
            rm -rf "$ODOO_DIR.partial"
            die "no Odoo 18.0 source: set ODOO_SRC=/path/to/an/odoo-18.0/checkout (or make $ODOO_GIT_URL reachable) and run again"
        fi
    fi
    grep -q "version_info = (18, 0" "$ODOO_DIR.partial/odoo/release.py" \
        || die "the Odoo source given is not 18.0 (see odoo/release.py)"
    mv "$ODOO_DIR.partial" "$ODOO_DIR"
}

# The venv is rebuilt when either requirement list changes.
ensure_venv() {
    local stamp want
    want="$(cat "$ODOO_DIR/requirements.txt" "$PROJECT_DIR/requirements.txt" | sha256sum | cut -c1-16)"
    stamp="$VENV_DIR/.cea-requirements"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
    local python="${CEA_PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.12 python3.11 python3.10 python3; do
            if command -v "$candidate" >/dev/null \
                && "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
                python="$candidate"; break
            fi
        done
    fi
    [ -n "$python" ] || die "Odoo 18.0 needs Python 3.10 to 3.12 (set CEA_PYTHON)"
    say "building the Odoo virtualenv in $VENV_DIR with $python (a few minutes, once)"
    [ -x "$VENV_DIR/bin/python" ] || "$python" -m venv "$VENV_DIR"
    "$VENV_DIR/bin/pip" install -q --upgrade "pip>=25.3" wheel
    # cbor2's sdist build breaks with setuptools 81+.
    local build_constraints="$CACHE_DIR/build-constraints.txt"
    echo "setuptools<81" >"$build_constraints"
    "$VENV_DIR/bin/pip" install -q --build-constraint "$build_constraints" \
        -r "$ODOO_DIR/requirements.txt" -r "$PROJECT_DIR/requirements.txt"
    "$VENV_DIR/bin/pip" install -q --no-deps -e "$ODOO_DIR" >/dev/null
    echo "$want" >"$stamp"
}

ensure_postgres() {
    if pg_isready -q 2>/dev/null; then return; fi
    say "PostgreSQL does not answer: starting the local cluster"
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
    [ -n "$version" ] || die "no PostgreSQL answers and none is installed here (set PGHOST/PGPORT/PGUSER)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 30); do pg_isready -q && return; sleep 1; done
    die "PostgreSQL did not start"
}

ensure_runtime() {
    ensure_debian_packages
    ensure_odoo_source
    ensure_venv
    ensure_postgres
    export PATH="$VENV_DIR/bin:$PATH"
}

# The first Python that is at least 3.12 (maildump needs it; Odoo 18.0 does not run on 3.13):
# CEA_MAILDUMP_PYTHON, then python3.13 and python3.12 on the PATH, then pyenv's versions.
find_python_312() {
    local candidate version
    for candidate in ${CEA_MAILDUMP_PYTHON:-} python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -V -r); do
            candidate="$(pyenv root)/versions/$version/bin/python3"
            [ -x "$candidate" ] && { echo "$candidate"; return 0; }
        done
    fi
    return 1
}

# maildump, the local mail catcher, in a virtualenv of its own: it needs Flask 3 and
# Werkzeug 3.1, which Odoo 18.0's pinned Werkzeug 2.2 excludes. Prints nothing and fails
# when no Python 3.12+ is at hand, so that the caller can go on without it.
ensure_maildump() {
    local requirements="$PROJECT_DIR/tools/requirements-maildump.txt" stamp want python
    want="$(sha256sum <"$requirements" | cut -c1-16)"
    stamp="$MAILDUMP_VENV_DIR/.cea-requirements"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    python="$(find_python_312)" || return 1
    say "building the mail catcher's virtualenv in $MAILDUMP_VENV_DIR with $python (once)"
    rm -rf "$MAILDUMP_VENV_DIR"
    local log="$CACHE_DIR/maildump-install.log"
    if "$python" -m venv "$MAILDUMP_VENV_DIR" && "$MAILDUMP_VENV_DIR/bin/pip" install -q -r "$requirements" >"$log" 2>&1; then
        echo "$want" >"$stamp"
    else
        say "installing maildump failed (see $log)"
        return 1
    fi
}

# schemathesis, which runs the event API's contract test against a live Odoo, in a virtualenv
# of its own: its hypothesis and pytest are newer than Odoo's test pins allow. Fails (and says
# why) when it cannot be built.
ensure_schemathesis() {
    local requirements="$PROJECT_DIR/tools/requirements-schemathesis.txt" stamp want python
    want="$(sha256sum <"$requirements" | cut -c1-16)"
    stamp="$SCHEMATHESIS_VENV_DIR/.cea-requirements"
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    python="${CEA_SCHEMATHESIS_PYTHON:-python3}"
    say "building the API contract tester's virtualenv in $SCHEMATHESIS_VENV_DIR with $python (once)"
    rm -rf "$SCHEMATHESIS_VENV_DIR"
    mkdir -p "$CACHE_DIR"
    local log="$CACHE_DIR/schemathesis-install.log"
    if "$python" -m venv "$SCHEMATHESIS_VENV_DIR" \
        && "$SCHEMATHESIS_VENV_DIR/bin/pip" install -q -r "$requirements" >"$log" 2>&1; then
        echo "$want" >"$stamp"
    else
        say "installing schemathesis failed (see $log)"
        return 1
    fi
}

addons_path() {
    echo "$ODOO_DIR/addons,$ODOO_DIR/odoo/addons,$PROJECT_DIR"
}
