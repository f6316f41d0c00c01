#!/usr/bin/env bash
# Run the product: an Odoo 18.0 with crm, sale_management and crm_email_automation (demo
# data, Polish loaded) on http://127.0.0.1:${CEA_PORT:-8069}.
#
#   ODOO_SRC=/path/to/odoo-18.0 ./tools/run.sh     # ODOO_SRC only the first time
#
# The database ${CEA_DB:-crm_email_automation} is created on the first run and reused after;
# CEA_RESET=1 drops and recreates it, CEA_UPDATE=1 upgrades the module in it before starting.
# The admin password is ${CEA_ADMIN_PASSWORD:-admin} (set at creation, or again when given).
#
# A local mail catcher (maildump) starts beside Odoo and the database's outgoing mail server
# points at it, so every e-mail the demo sends can be read in a browser at
# http://127.0.0.1:${CEA_MAIL_HTTP_PORT:-1080} (SMTP on ${CEA_MAIL_SMTP_PORT:-1025}).
# CEA_MAIL_CATCHER=0 starts Odoo without it and leaves the mail servers as they are.
source "$(dirname "$0")/lib.sh"

DB="${CEA_DB:-crm_email_automation}"
PORT="${CEA_PORT:-8069}"
ADMIN_PASSWORD="${CEA_ADMIN_PASSWORD:-admin}"
MODULES="crm,sale_management,crm_email_automation"
DATA_DIR="$CACHE_DIR/data"
MAIL_SMTP_PORT="${CEA_MAIL_SMTP_PORT:-1025}"
MAIL_HTTP_PORT="${CEA_MAIL_HTTP_PORT:-1080}"

[[ "$DB" =~ ^[A-Za-z0-9_-]+$ ]] || die "CEA_DB=$DB: use letters, digits, _ and - only"
[[ "$PORT" =~ ^[0-9]+$ ]] || die "CEA_PORT=$PORT is not a port number"
[[ "$MAIL_SMTP_PORT" =~ ^[0-9]+$ ]] || die "CEA_MAIL_SMTP_PORT=$MAIL_SMTP_PORT is not a port number"
[[ "$MAIL_HTTP_PORT" =~ ^[0-9]+$ ]] || die "CEA_MAIL_HTTP_PORT=$MAIL_HTTP_PORT is not a port number"

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

MAIL_CATCHER_PID=""
stop_mail_catcher() {
    [ -z "$MAIL_CATCHER_PID" ] || kill "$MAIL_CATCHER_PID" 2>/dev/null || true
}
trap stop_mail_catcher EXIT

start_mail_catcher() {
    mkdir -p "$DATA_DIR"
    "$MAILDUMP_VENV_DIR/bin/maildump" --foreground --no-quit \
        --smtp-ip 127.0.0.1 --smtp-port "$MAIL_SMTP_PORT" \
        --http-ip 127.0.0.1 --http-port "$MAIL_HTTP_PORT" \
        --db "$DATA_DIR/maildump-$DB.sqlite" >"$DATA_DIR/maildump-$DB.log" 2>&1 &
    MAIL_CATCHER_PID=$!
    for _ in $(seq 50); do
        kill -0 "$MAIL_CATCHER_PID" 2>/dev/null \
            || die "the mail catcher did not start (ports $MAIL_SMTP_PORT/$MAIL_HTTP_PORT taken? set" \
                "CEA_MAIL_SMTP_PORT and CEA_MAIL_HTTP_PORT); its log: $DATA_DIR/maildump-$DB.log"
        curl -fsS -o /dev/null "http://127.0.0.1:$MAIL_HTTP_PORT/messages/" 2>/dev/null && return
        sleep 0.2
    done
    die "the mail catcher did not answer on http://127.0.0.1:$MAIL_HTTP_PORT (see $DATA_DIR/maildump-$DB.log)"
}

# The demo database sends through the catcher: one outgoing server, first in line, kept up to
# date with the port; other servers stay as they are but come after it.
point_mail_at_catcher() {
    say "pointing the outgoing mail server of $DB at the mail catcher (127.0.0.1:$MAIL_SMTP_PORT)"
    CEA_MAIL_SMTP_PORT="$MAIL_SMTP_PORT" odoo shell "${COMMON[@]}" -d "$DB" --no-http --log-level=warn \
        >/dev/null <<'PYTHON'
import os
values = {
    "name": "Local mail catcher (maildump)",
    "smtp_host": "127.0.0.1",
    "smtp_port": int(os.environ["CEA_MAIL_SMTP_PORT"]),
    "smtp_encryption": "none",
    "smtp_authentication": "login",
    "smtp_user": False,
    "smtp_pass": False,
    "from_filter": False,
    "sequence": 0,
    "active": True,
}
Server = env["ir.mail_server"].with_context(active_test=False)
server = Server.search([("name", "=", values["name"])], limit=1)
if server:
    server.write(values)
else:
    Server.create(values)
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

MAIL_URL=""
if [ "${CEA_MAIL_CATCHER:-1}" != 0 ]; then
    if ensure_maildump; then
        start_mail_catcher
        point_mail_at_catcher
        MAIL_URL="http://127.0.0.1:$MAIL_HTTP_PORT"
    else
        say "WARNING: no Python 3.12 or newer here for the mail catcher (maildump needs it; set" \
            "CEA_MAILDUMP_PYTHON): Odoo starts without it and sends through the mail servers it has"
    fi
fi

URL="http://127.0.0.1:$PORT"
say "Odoo is starting on $URL   login: admin   password: $PASSWORD_NOTE   database: $DB"
[ -z "$MAIL_URL" ] || say "E-mails it sends arrive in the mail catcher: $MAIL_URL"
say "E-mail Automation is in the app menu; press Ctrl+C to stop."
# Not exec: the EXIT trap stops the mail catcher when Odoo ends.
"$VENV_DIR/bin/python" "$ODOO_DIR/odoo-bin" "${COMMON[@]}" \
    -d "$DB" --db-filter="^${DB}\$" --no-database-list \
    --http-interface=127.0.0.1 --http-port="$PORT"
