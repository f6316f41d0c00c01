"""Scenarios as code between two real databases, through the command integrators use:
export here, import with tools/scenarios.sh into a fresh database, export there: the
same document. A bad file exits non-zero, names the line and changes nothing."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import odoo
from odoo.tests import tagged
from odoo.tools import config

from .scenario_document_common import ScenarioDocumentCommon

REPOSITORY = Path(__file__).resolve().parents[2]
SCENARIOS_SH = REPOSITORY / "tools" / "scenarios.sh"
ODOO_BIN = Path(odoo.__file__).resolve().parent.parent / "odoo-bin"


@tagged("post_install", "-at_install")
class TestScenarioRoundTrip(ScenarioDocumentCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fresh_db = f"{cls.env.cr.dbname}_fresh"
        cls.tmp = Path(tempfile.mkdtemp(prefix="cea_scenarios_"))
        cls.addClassCleanup(subprocess.run, ["rm", "-rf", str(cls.tmp)], check=False)
        subprocess.run(["dropdb", "--if-exists", cls.fresh_db], check=True)
        subprocess.run(["createdb", cls.fresh_db], check=True)
        cls.addClassCleanup(subprocess.run, ["dropdb", "--if-exists", cls.fresh_db], check=False)
        install = subprocess.run(
            [sys.executable, ODOO_BIN, "--config", os.devnull, f"--addons-path={config['addons_path']}"]
            + ["-d", cls.fresh_db, "-i", "crm_email_automation", "--without-demo=all"]
            + ["--load-language=pl_PL", "--stop-after-init", "--log-level=warn"],
            capture_output=True,
            text=True,
            check=False,
        )
        if install.returncode:
            raise AssertionError(f"the fresh database did not install:\n{install.stderr}")

    def scenarios(self, *args):
        return subprocess.run(
            [SCENARIOS_SH, "-d", self.fresh_db, *args], capture_output=True, text=True, check=False, timeout=600
        )

    def test_export_import_export_gives_the_same_document(self):
        # Every scenario of this database: the demo ones and the one with branches.
        text = self.env["email.automation.scenario.document"]._export_text()
        self.assertIn("code: quotation_follow_up", text)
        path = self.tmp / "scenarios.yaml"
        path.write_text(text, encoding="utf-8")

        diff = self.scenarios("diff", path)
        self.assertEqual(diff.returncode, 0, diff.stderr)
        self.assertIn("Added: scenarios quotation_follow_up (", diff.stdout)
        imported = self.scenarios("import", path)
        self.assertEqual(imported.returncode, 0, imported.stderr)

        exported = self.scenarios("export")
        self.assertEqual(exported.returncode, 0, exported.stderr)
        self.assertEqual(exported.stdout, text)
        again = self.scenarios("diff", path)
        self.assertIn("Nothing to change.", again.stdout)

        one = self.scenarios("export", "--scenario", "quotation_follow_up")
        self.assertEqual(one.stdout, self.export())

        # A bad file: exit status 1, the line named, nothing changed.
        bad = text.replace("delay: 2\n", "delay: two\n", 1)
        bad_path = self.tmp / "bad.yaml"
        bad_path.write_text(bad, encoding="utf-8")
        refused = self.scenarios("import", bad_path)
        self.assertEqual(refused.returncode, 1)
        line = self.line_of(bad, "delay: two")
        self.assertIn(f"line {line}: field 'delay': expects a whole number", refused.stderr)
        self.assertEqual(self.scenarios("export").stdout, text)
