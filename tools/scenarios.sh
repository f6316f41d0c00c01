#!/usr/bin/env bash
# Scenarios as code: export the e-mail scenarios of a database to a YAML file, show what a
# file would change, or apply it (all or nothing), for a git workflow between staging and
# production.
#
#   tools/scenarios.sh -d DB export [--scenario CODE]... > scenarios.yaml
#   tools/scenarios.sh -d DB diff scenarios.yaml
#   tools/scenarios.sh -d DB import scenarios.yaml
#
# Options: -d/--database DB (or CEA_DB), --user LOGIN: whose rights the import runs with
# (default: the administrator), -c/--config FILE: an Odoo configuration file (its addons
# path and database settings; by default the project's runtime and PGHOST/PGPORT/PGUSER).
# A bad file exits with status 1 and prints each problem with its line; nothing changes.
source "$(dirname "$0")/lib.sh"
ensure_runtime >/dev/null
exec "$VENV_DIR/bin/python" "$PROJECT_DIR/tools/scenarios.py" --addons-path "$(addons_path)" "$@"
