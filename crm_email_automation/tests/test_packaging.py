"""The addon as a Python wheel: built with whool (fetched from PyPI in pip's build
isolation), installed with pip in a fresh virtualenv next to Odoo, and installed by Odoo
into a new database from there, with no addons path pointing at this repository."""

import email.parser
import os
import subprocess
import sys
import sysconfig
import tempfile
import venv
import zipfile
from pathlib import Path

import odoo
from odoo.modules.module import get_manifest
from odoo.tests import BaseCase, tagged
from odoo.tools import config

ADDON = "crm_email_automation"
ADDON_DIR = Path(__file__).resolve().parent.parent
ODOO_ROOT = Path(odoo.__file__).resolve().parent.parent
WHEEL_PREFIX = f"odoo/addons/{ADDON}/"


def run(command, **kwargs):
    """Run `command`; on failure, fail with its output (not a bare exit status)."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False, **kwargs)
    if result.returncode:
        raise AssertionError(
            f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


@tagged("post_install", "-at_install")
class TestPackaging(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = Path(tempfile.mkdtemp(prefix="cea_wheel_"))
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", str(cls.tmp)], check=False)
        run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", cls.tmp / "dist", ADDON_DIR])
        wheels = list((cls.tmp / "dist").glob("*.whl"))
        if len(wheels) != 1:
            raise AssertionError(f"expected one wheel, found {wheels}")
        cls.wheel = wheels[0]

    def wheel_metadata(self):
        with zipfile.ZipFile(self.wheel) as archive:
            [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            return email.parser.Parser().parsestr(archive.read(name).decode())

    def test_wheel_metadata_comes_from_the_manifest(self):
        manifest = get_manifest(ADDON)
        metadata = self.wheel_metadata()
        self.assertEqual(metadata["Name"], f"odoo-addon-{ADDON}")
        self.assertTrue(metadata["Version"].startswith(manifest["version"]), metadata["Version"])
        self.assertRegex(manifest["version"], r"^18\.0\.\d+\.\d+\.\d+$")
        requires = metadata.get_all("Requires-Dist")
        for dependency in manifest["external_dependencies"]["python"]:
            self.assertIn(dependency, requires)
        self.assertTrue(any(r.startswith("odoo") and "18.0" in r for r in requires), requires)
        self.assertEqual(metadata["Summary"], " ".join(manifest["summary"].split()))
        self.assertEqual(metadata["License"], manifest["license"])
        self.assertIn("CRM E-mail Automation", metadata.get_payload())  # README.rst, the long description

    def test_wheel_holds_the_whole_addon(self):
        with zipfile.ZipFile(self.wheel) as archive:
            names = set(archive.namelist())
        for path in [
            "__manifest__.py",
            "__init__.py",
            "data/neutralize.sql",
            "i18n/pl.po",
            "static/description/icon.png",
            "static/description/index.html",
            "views/email_automation_scenario_views.xml",
            "models/email_automation_scenario_document.py",
        ]:
            self.assertIn(WHEEL_PREFIX + path, names)
        self.assertNotIn(WHEEL_PREFIX + "pyproject.toml", names)
        # Every file the manifest loads is in the wheel.
        for path in get_manifest(ADDON)["data"]:
            self.assertIn(WHEEL_PREFIX + path, names)

    def test_pip_install_makes_odoo_install_the_addon(self):
        env_dir = self.tmp / "venv"
        venv.EnvBuilder(with_pip=True).create(env_dir)
        python = env_dir / "bin" / "python"
        site_packages = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
        # Odoo and its requirements, as already installed next to this Odoo (the project's
        # virtualenv): the new environment sees them as a --system-site-packages one would.
        # Odoo's source goes on the path as a plain entry (as an installed Odoo is): the
        # project's editable install finds it with an import hook that only runs after the
        # new odoo/addons folder made "odoo" look like a namespace package.
        (site_packages / "odoo_runtime.pth").write_text(
            f"{ODOO_ROOT}\nimport site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
        )
        # --no-deps: pip would also re-check Odoo's own requirements, which an Odoo installed
        # from its requirements.txt (psycopg2-binary for psycopg2...) does not all match.
        run([python, "-m", "pip", "install", "--no-index", "--no-deps", self.wheel])
        # The wheel's requirements (PyYAML, Odoo 18.0) are met in the new environment.
        unmet = run(
            [
                python,
                "-c",
                "import importlib.metadata as m; from packaging.requirements import Requirement; "
                "reqs = [Requirement(r) for r in m.requires('odoo-addon-crm_email_automation')]; "
                "print([str(r) for r in reqs if not r.specifier.contains(m.version(r.name), prereleases=True)])",
            ]
        ).strip()
        self.assertEqual(unmet, "[]")
        installed = site_packages / "odoo" / "addons" / ADDON / "__manifest__.py"
        self.assertTrue(installed.is_file(), f"{installed} is missing")

        # Odoo, given only its own addons, finds the addon in the odoo.addons namespace.
        addons_path = f"--addons-path={ODOO_ROOT / 'addons'}"
        where = run(
            [
                python,
                "-c",
                "import odoo, sys; from odoo.modules import module; "
                "odoo.tools.config.parse_config(sys.argv[1:]); module.initialize_sys_path(); "
                f"print(module.get_module_path({ADDON!r}))",
                addons_path,
            ]
        ).strip()
        self.assertEqual(Path(where), installed.parent)

        database = f"{config['db_name']}_wheel"
        pg_args = ["--config", os.devnull, addons_path]
        for option in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(option):
                pg_args.append(f"--{option.replace('_', '-')}={config[option]}")
        run(["dropdb", "--if-exists", database])
        run(["createdb", database])
        self.addCleanup(subprocess.run, ["dropdb", "--if-exists", database], check=False)
        run(
            [python, "-m", "odoo", *pg_args, "-d", database, "-i", ADDON]
            + ["--without-demo=all", "--stop-after-init", "--log-level=warn"]
        )
        state = run(
            ["psql", "-At", "-d", database, "-c", f"SELECT state FROM ir_module_module WHERE name = '{ADDON}'"]
        ).strip()
        self.assertEqual(state, "installed")
