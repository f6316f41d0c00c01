"""The command behind tools/scenarios.sh: export, diff and import scenario documents
(YAML) in an Odoo database, through the addon's own code and the ORM."""

import argparse
import os
import sys


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scenarios.sh", description=__doc__)
    parser.add_argument("-d", "--database", default=os.environ.get("CEA_DB"), required=not os.environ.get("CEA_DB"))
    parser.add_argument("-c", "--config", help="an Odoo configuration file")
    parser.add_argument("--addons-path", help="Odoo's addons path (set by scenarios.sh)")
    parser.add_argument("--user", default=None, help="login whose rights the command uses (default: the administrator)")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="print the scenarios as YAML")
    export.add_argument("--scenario", action="append", default=[], help="the code of a scenario (repeatable)")
    for name, text in (("diff", "show what FILE would change"), ("import", "apply FILE, all or nothing")):
        commands.add_parser(name, help=text).add_argument("file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import odoo  # noqa: PLC0415  (Odoo is importable only in the runtime this script runs in)
    from odoo.exceptions import UserError  # noqa: PLC0415

    odoo_args = ["--log-level=warn", "-d", args.database, "--config", args.config or os.devnull]
    if args.addons_path:
        odoo_args.append(f"--addons-path={args.addons_path}")
    odoo.tools.config.parse_config(odoo_args)
    text = None
    if args.command in ("diff", "import"):
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    registry = odoo.modules.registry.Registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        if args.user:
            user = env["res.users"].search([("login", "=", args.user)], limit=1)
        else:
            user = env.ref("base.user_admin")
        if not user:
            sys.exit(f"scenarios.sh: no user with the login {args.user!r}")
        env = env(user=user.id, context={"lang": "en_US"})
        document = env["email.automation.scenario.document"]
        try:
            if args.command == "export":
                scenarios = None
                if args.scenario:
                    scenarios = env["email.automation.scenario"].search([("code", "in", args.scenario)])
                    missing = set(args.scenario) - set(scenarios.mapped("code"))
                    if missing:
                        sys.exit(f"scenarios.sh: no scenario with the code {', '.join(sorted(missing))}")
                sys.stdout.write(document._export_text(scenarios))
            elif args.command == "diff":
                sys.stdout.write(document._diff_text(document._diff(document._read_document(text))))
            else:
                diff = document._import_text(text)
                cr.commit()
                sys.stdout.write(document._diff_text(diff))
        except UserError as error:
            cr.rollback()
            sys.stderr.write(f"scenarios.sh: {error.args[0]}\n")
            sys.exit(1)


if __name__ == "__main__":
    main()
