#!/usr/bin/env bash
# Run the product: an Odoo 18.0 with crm, sale_management and crm_email_automation (demo
# data, Polish loaded) on http://127.0.0.1:${CEA_PORT:-8069}.
#
#   ODOO_SRC=/path/to/odoo-18.0 ./tools/run.sh     # ODOO_SRC only the first time
#
# The database ${CEA_DB:-crm_email_automation} is created on the first run and reused after;
# CEA_RESET=1 drops and recreates it, CEA_UPDATE=1 upgrades the module in it before starting.
# The admin password is ${CEA_ADMIN_PASSWORD:-admin} (set at creation, or again when given).
source "$(dirname "$0")/lib.sh"

DB="${CEA_DB:-crm_email_automation}"
PORT="${CEA_PORT:-8069}"
ADMIN_PASSWORD="${CEA_ADMIN_PASSWORD:-admin}"
MODULES="crm,sale_management,crm_email_automation"
DATA_DIR="$CACHE_DIR/data"

[[ "$DB" =~ ^[A-Za-z0-9_-]+$ ]] || die "CEA_DB=$DB: use letters, digits, _ and - only"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "CEA_PORT=$PORT is not a port number"

ensure_runtime

# Every Odoo call shares these options. --config=/dev/null keeps a personal ~/.odoorc out
# of the demo (it could turn demo data off or point to another database); PostgreSQL is
# reached through the usual PGHOST/PGPORT/PGUSER/PGPASSWORD variables.
odoo() {
    "$VENV_DIR/bin/python" "$ODOO_DIR/odoo-bin" "$@"
}
COMMON=(--config=/dev/null --addons-path="$(addons_path)" --data-dir="$DATA_DIR")

db_exists() {
    [ "$(psql -X -q -t -A -v db="$DB" -d postgres <<<"SELECT 1 FROM pg_database WHERE datname = :'db'")" = 1 ]
}

module_installed() {
    [ "$(psql -X -q -t -A -d "$DB" \
        -c "SELECT state FROM ir_module_module WHERE name = 'crm_email_automation'" 2>/dev/null)" = installed ]
}

drop_db() {
    say "dropping the database $DB (and its filestore)"
    odoo db --config=/dev/null --data-dir="$DATA_DIR" drop "$DB" >/dev/null 2>&1 \
        || die "could not drop the database $DB (is PostgreSQL reachable, do you own the database?)"
}

# Also activates English: --load-language made Polish the database's default language, and
# users should be able to switch in their preferences.
set_admin_password() {
    say "setting the admin password"
    CEA_ADMIN_PASSWORD="$ADMIN_PASSWORD" odoo shell "${COMMON[@]}" -d "$DB" --no-http --log-level=warn \
        >/dev/null <<'PYTHON'
import os
env.ref("base.user_admin").password = os.environ["CEA_ADMIN_PASSWORD"]
env["res.lang"]._activate_lang("en_US")
env.cr.commit()
PYTHON
}

if [ "${CEA_RESET:-0}" = 1 ] && db_exists; then
    drop_db
fi

PASSWORD_NOTE="$ADMIN_PASSWORD"
if db_exists; then
    module_installed || die "the database $DB exists but crm_email_automation is not installed in it: " \
        "run again with CEA_RESET=1 to recreate it, or choose another name with CEA_DB=..."
    if [ "${CEA_UPDATE:-0}" = 1 ]; then
        say "upgrading crm_email_automation in $DB"
        odoo "${COMMON[@]}" -d "$DB" -u crm_email_automation --stop-after-init --no-http --log-level=warn
    fi
    if [ -n "${CEA_ADMIN_PASSWORD:-}" ]; then
        set_admin_password
    else
        PASSWORD_NOTE="$ADMIN_PASSWORD (unless changed since the database was created)"
    fi
else
    say "creating the database $DB: $MODULES with demo data, Polish loaded (a few minutes)"
    # Odoo 18.0 loads demo data into a new database unless --without-demo is given.
    if ! odoo "${COMMON[@]}" -d "$DB" -i "$MODULES" --load-language=pl_PL \
        --stop-after-init --no-http --log-level=warn; then
        drop_db
        die "installing $MODULES failed (see the log above); the half-made database was dropped"
    fi
    set_admin_password
fi

URL="http://127.0.0.1:$PORT"
say "Odoo is starting on $URL   login: admin   password: $PASSWORD_NOTE   database: $DB"
say "E-mail Automation is in the app menu; press Ctrl+C to stop."
exec "$VENV_DIR/bin/python" "$ODOO_DIR/odoo-bin" "${COMMON[@]}" \
    -d "$DB" --db-filter="^${DB}\$" --no-database-list \
    --http-interface=127.0.0.1 --http-port="$PORT"
