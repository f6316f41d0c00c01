import ast
from pathlib import Path

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

MODULE_DIR = Path(__file__).resolve().parent.parent
# The methods a client calls by name: buttons and actions.
PUBLIC_ACTION_PREFIXES = ("action_", "button_")


def _returns_on_every_path(body):
    """Whether a function body ends in a `return <value>` or a `raise` on every path, and
    never answers a bare `return` (None cannot be marshalled over XML-RPC)."""
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.Return) and (
            node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            return False
    last = body[-1]
    if isinstance(last, ast.Return | ast.Raise):
        return True
    if isinstance(last, ast.If):
        return _returns_on_every_path(last.body) and bool(last.orelse) and _returns_on_every_path(last.orelse)
    if isinstance(last, ast.Try):
        return _returns_on_every_path(last.body) or (bool(last.finalbody) and _returns_on_every_path(last.finalbody))
    return False


@tagged("post_install", "-at_install")
class TestRpcActions(HttpCase):
    """The buttons of the module answer something over XML-RPC, called as the manager who is
    not an administrator (today `action_start` answered "cannot marshal None")."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Demo scenarios would enrol the contacts created here.
        cls.env["email.automation.scenario"].search([("state", "=", "running")]).state = "paused"
        cls.manager = new_test_user(
            cls.env,
            "rpc_manager",
            password="rpc_manager_pw",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_manager",
        )
        cls.partner = cls.env["res.partner"].create({"name": "Ada Lovelace", "email": "ada@example.com"})
        template = cls.env["mail.template"].create(
            {
                "name": "RPC template",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "subject": "Hello",
                "body_html": "<p>Hello</p>",
            }
        )
        cls.scenario = cls.env["email.automation.scenario"].create(
            {
                "name": "RPC scenario",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "category": "transactional",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Later",
                            "trigger_type": "begin",
                            "delay": 1,
                            "delay_unit": "days",
                            "action_type": "mail",
                            "mail_template_id": template.id,
                        }
                    )
                ],
            }
        )

    def setUp(self):
        super().setUp()
        self.db = self.env.cr.dbname
        self.uid = self.xmlrpc_common.authenticate(self.db, "rpc_manager", "rpc_manager_pw", {})
        self.assertEqual(self.uid, self.manager.id)

    def call(self, model, method, ids, *args):
        return self.xmlrpc_object.execute_kw(self.db, self.uid, "rpc_manager_pw", model, method, [ids, *args])

    def test_scenario_buttons_answer_over_xmlrpc(self):
        scenario = self.scenario
        self.assertIs(self.call(scenario._name, "action_start", scenario.ids), True)
        self.assertEqual(scenario.state, "running")
        self.assertIs(self.call(scenario._name, "action_pause", scenario.ids), True)
        self.assertEqual(scenario.state, "paused")
        self.assertIs(self.call(scenario._name, "action_start", scenario.ids), True, "Resuming a paused scenario.")
        self.assertEqual(scenario.state, "running")
        self.assertIs(self.call(scenario._name, "action_stop", scenario.ids), True)
        self.assertEqual(scenario.state, "stopped")
        self.assertIs(self.call(scenario._name, "action_reset_to_draft", scenario.ids), True)
        self.assertEqual(scenario.state, "draft")

    def test_participant_and_queue_buttons_answer_over_xmlrpc(self):
        self.scenario.action_start()
        participant = self.scenario._enrol(self.partner.ids)
        trace = participant.trace_ids
        self.assertEqual(trace.state, "scheduled")

        self.assertIs(self.call(trace._name, "action_cancel", trace.ids), True)
        self.assertEqual(trace.state, "cancelled")
        self.assertIs(self.call(trace._name, "action_retry", trace.ids), True)
        self.assertIs(self.call(participant._name, "action_cancel", participant.ids), True)
        self.assertEqual(participant.state, "cancelled")

    def test_provider_suppression_and_audience_buttons_answer_over_xmlrpc(self):
        provider = self.env["email.automation.provider"].create({"name": "SMTP (RPC)", "kind": "smtp"})
        self.assertIs(self.call(provider._name, "action_pause", provider.ids), True)
        self.assertEqual(provider.state, "paused")
        self.assertIs(self.call(provider._name, "action_resume", provider.ids), True)
        self.assertEqual(provider.state, "active")

        Suppression = self.env["email.automation.suppression"]
        Suppression._suppress(["ada@example.com"], "manual")
        suppression = Suppression.search([("email_hash", "=", Suppression._hash("ada@example.com"))])
        self.assertTrue(suppression.is_suppressed)
        self.assertIs(self.call(suppression._name, "action_unsuppress", suppression.ids), True)
        self.assertFalse(suppression.is_suppressed)

        member = (
            self.env["email.automation.audience.member"]
            .sudo()
            .create({"company_id": self.env.company.id, "partner_id": self.partner.id, "failed_key": "x"})
        )
        self.assertIs(self.call(member._name, "action_retry", member.ids), True)
        self.assertFalse(member.failed_key)

    def test_every_public_action_returns_a_value(self):
        """A guard for the buttons to come: no `action_*`/`button_*` method of the module may
        end without returning something."""
        offenders = []
        for path in sorted(MODULE_DIR.glob("*/*.py")):
            if path.parent.name == "tests":
                continue
            tree = ast.parse(path.read_text(), str(path))
            for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
                for method in cls.body:
                    if (
                        isinstance(method, ast.FunctionDef)
                        and method.name.startswith(PUBLIC_ACTION_PREFIXES)
                        and not _returns_on_every_path(method.body)
                    ):
                        offenders.append(f"{path.relative_to(MODULE_DIR)}: {cls.name}.{method.name}")
        self.assertFalse(offenders, "These client-callable methods can return None (not marshallable over XML-RPC).")
