"""Odoo bootstrap for the benchmark: where Odoo lives, the bench database, the registry.

Nothing here knows about the measurements. The benchmark only ever creates and drops
databases whose name starts with ``DB_PREFIX`` and that it created itself in this run.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
DB_PREFIX = "cea_bench_"
MODULES = "crm_email_automation,sale_management,mass_mailing,base_automation"
ADDON = "crm_email_automation"


def snapshot_addon(dest_root):
    """Copy the addon into `dest_root` and return that directory, to use as the addons
    directory of the whole run: edits made to the checkout while the benchmark runs (the
    worker process loads the code later than the benchmark) do not mix two versions."""
    dest = Path(dest_root)
    shutil.copytree(PROJECT_DIR / ADDON, dest / ADDON, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def engine_version():
    """The addon's commit and how many of its files differ from it, e.g. 'f4073f9 + 3 modified'."""

    def git(*args):
        result = subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "no commit"
    changed = [line for line in git("status", "--porcelain", "--", ADDON).splitlines() if line.strip()]
    return f"{commit} + {len(changed)} uncommitted file(s)" if changed else commit


def default_odoo_dir():
    """``$CEA_CACHE_DIR/odoo-18.0``, else ``~/.cache/crm_email_automation/odoo-18.0`` (the
    layout tools/lib.sh builds)."""
    cache = os.environ.get("CEA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "crm_email_automation"
    )
    return os.path.join(cache, "odoo-18.0")


class OdooSetup:
    """The Odoo source, addons path and database options of one benchmark run."""

    def __init__(self, odoo_dir, db_name, db_options=(), extra_addons=(), addons_dir=PROJECT_DIR):
        self.odoo_dir = Path(odoo_dir).resolve()
        if not (self.odoo_dir / "odoo-bin").is_file():
            raise SystemExit(f"--odoo-dir {self.odoo_dir} is not an Odoo source tree (no odoo-bin)")
        if not db_name.startswith(DB_PREFIX):
            raise SystemExit(f"the bench database name must start with {DB_PREFIX!r}")
        self.db_name = db_name
        self.db_options = list(db_options)
        self.addons_dir = Path(addons_dir)
        self.extra_addons = list(extra_addons)
        self.addons_path = ",".join(
            [str(self.odoo_dir / "addons"), str(self.odoo_dir / "odoo" / "addons"), str(addons_dir), *extra_addons]
        )

    def odoo_args(self):
        """Command-line options shared by odoo-bin, the in-process config and the worker."""
        return [
            f"--addons-path={self.addons_path}",
            f"--database={self.db_name}",
            "--without-demo=all",
            "--log-level=warn",
            "--max-cron-threads=0",
            *self.db_options,
        ]

    def worker_args(self):
        """What bench/worker.py needs to open the same database."""
        return [
            "--odoo-dir",
            str(self.odoo_dir),
            "--db",
            self.db_name,
            "--addons-dir",
            str(self.addons_dir),
            *(f"--extra-addons={a}" for a in self.extra_addons),
            *(f"--odoo-option={o}" for o in self.db_options),
        ]

    # ------------------------------------------------------------------

    def create_database(self, modules=MODULES):
        """Create and install the bench database with odoo-bin (as a user would)."""
        if self.database_exists():
            raise SystemExit(f"database {self.db_name} already exists: refusing to reuse or drop it")
        cmd = [
            sys.executable,
            str(self.odoo_dir / "odoo-bin"),
            *self.odoo_args(),
            f"--init={modules}",
            "--stop-after-init",
        ]
        started = time.monotonic()
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not self.database_exists():
            sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
            raise SystemExit(f"odoo-bin could not create {self.db_name} (exit {result.returncode})")
        return time.monotonic() - started

    def load_config(self):
        """Make `import odoo` use --odoo-dir and configure it like odoo-bin."""
        if str(self.odoo_dir) not in sys.path:
            sys.path.insert(0, str(self.odoo_dir))
        import odoo  # noqa: PLC0415 - only importable once the path is set

        odoo.tools.config.parse_config(self.odoo_args())
        return odoo

    def database_exists(self):
        import odoo  # noqa: PLC0415

        if not odoo.tools.config.get("addons_path"):
            self.load_config()
        db = odoo.sql_db.db_connect("postgres")
        with contextlib.closing(db.cursor()) as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.db_name,))
            return bool(cr.fetchall())

    def drop_database(self):
        import odoo  # noqa: PLC0415

        if not self.db_name.startswith(DB_PREFIX):  # never drop anything else
            return False
        return odoo.service.db.exp_drop(self.db_name)

    def registry(self):
        import odoo  # noqa: PLC0415

        return odoo.modules.registry.Registry(self.db_name)


@contextlib.contextmanager
def superuser_env(registry):
    """An environment as the superuser on a fresh cursor, committed on exit."""
    import odoo  # noqa: PLC0415

    with registry.cursor() as cr:
        yield odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})


def run_in_bench_database(args, servers, run, report, modules=ADDON, db_options=(), extra_addons=(), announce=None):
    """The life of a one-database benchmark: snapshot the addon, start the local `servers`
    (context managers: SMTP sink, provider sink), create ``args.db_name`` (installing
    `modules`, or copying ``args.from_db`` when given), call ``run(args, setup, *servers)``
    and ``report(args, results)``, and drop the database however that ended (unless
    ``args.keep_db``). Sets ``args.engine``, ``args.started`` (monotonic) and
    ``args.setup_seconds``; ``announce(setup, odoo, addons_dir)`` may print the settings.
    Returns the exit status: 0 when `report` says the targets are met."""
    # A plain `kill` ends the run like Ctrl+C does: through the finally that drops the database.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory(prefix="cea_bench_addon_") as snapshot:
        addons_dir = snapshot_addon(snapshot)
        setup = OdooSetup(
            args.odoo_dir, args.db_name, db_options=db_options, extra_addons=extra_addons, addons_dir=addons_dir
        )
        odoo = setup.load_config()
        odoo.netsvc.init_logger()
        args.engine = engine_version()
        if announce:
            announce(setup, odoo, addons_dir)
        created = False
        args.started = time.monotonic()
        args.setup_seconds = 0.0
        try:
            with contextlib.ExitStack() as stack:
                started = [stack.enter_context(server) for server in servers]
                if setup.database_exists():
                    raise SystemExit(f"database {args.db_name} already exists: refusing to reuse or drop it")
                created = True  # from here on the database may exist, and it is ours to drop
                from_db = getattr(args, "from_db", None)
                if from_db:
                    progress(f"copying {from_db} to {args.db_name}")
                    subprocess.run(["createdb", "-T", from_db, args.db_name], check=True)  # noqa: S603, S607
                else:
                    progress(f"creating database {args.db_name}")
                    args.setup_seconds = setup.create_database(modules=modules)
                    progress(f"database ready in {args.setup_seconds:.0f}s")
                results = run(args, setup, *started)
            ok = report(args, results)
        except Exception:  # noqa: BLE001 - report, then drop the database all the same
            traceback.print_exc()
            ok = False
        finally:
            if created and not args.keep_db:
                progress(f"dropping {args.db_name}")
                try:
                    setup.drop_database()
                except Exception:  # noqa: BLE001 - report, the figures are already printed
                    traceback.print_exc()
    return 0 if ok else 1


def progress(message):
    """A timestamped line on stderr: where a long benchmark is."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)
