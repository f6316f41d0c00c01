from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import warm_up_http_statics


@tagged("post_install", "-at_install")
class TestTestingTour(HttpCase):
    """A manager (not an administrator) simulates a scenario and previews a step's e-mail
    for a Polish record in the browser; the attacks arrive over JSON-RPC."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["email.automation.scenario"].search([("state", "=", "running")]).state = "paused"
        cls.env["res.lang"]._activate_lang("pl_PL")
        # The manager works in English, whatever the database's language.
        cls.env["res.lang"]._activate_lang("en_US")
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)
        cls.manager = new_test_user(
            cls.env,
            "tour_ea_manager",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_manager",
            lang="en_US",
            email="tour.manager@example.com",
        )
        cls.plain = new_test_user(
            cls.env,
            "tour_ea_plain",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_user",
            lang="en_US",
        )
        template = cls.env["mail.template"].create(
            {
                "name": "Tour welcome",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "subject": "Welcome, {{ object.name }}",
                "body_html": "<p>Welcome.</p>",
            }
        )
        template.update_field_translations("subject", {"pl_PL": "Witamy, {{ object.name }}"})
        cls.janina, cls.tom = cls.env["res.partner"].create(
            [
                {"name": "Janina Testowa", "email": "janina@tour-sim.example", "lang": "pl_PL"},
                {"name": "Tom Tour", "email": "tom@tour-sim.example", "lang": "en_US"},
            ]
        )
        wording = cls.env["email.automation.consent.wording"].create(
            {"name": "Tour consent", "version": "tour-1", "text": "<p>I agree.</p>"}
        )
        cls.janina._email_consent_record("granted", "user", wording=wording, reason="tour")
        cls.scenario = cls.env["email.automation.scenario"].create(
            {
                "name": "Tour newsletter",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "category": "marketing",
                "user_id": cls.manager.id,
                "domain": "[('email', '=ilike', '%@tour-sim.example')]",
                "step_ids": [
                    Command.create(
                        {
                            "name": "Tour welcome e-mail",
                            "trigger_type": "begin",
                            "action_type": "mail",
                            "mail_template_id": template.id,
                        }
                    )
                ],
            }
        )

    def test_simulate_and_preview_in_the_browser(self):
        self.start_tour(
            f"/odoo/action-crm_email_automation.email_automation_scenario_action/{self.scenario.id}",
            "crm_email_automation_testing_tour",
            login="tour_ea_manager",
        )
        self.assertFalse(
            self.env["email.automation.participant"].search([("scenario_id", "=", self.scenario.id)]),
            "simulating and previewing enrol nobody",
        )

    def call_kw(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def test_plain_user_cannot_simulate_or_test_over_rpc(self):
        self.authenticate("tour_ea_plain", "tour_ea_plain")
        spec = {"scenario_id": {}, "enter_count": {}, "sample": {}, "step_report": {}}
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw("email.automation.simulate", "onchange", [[], {"scenario_id": self.scenario.id}, [], spec])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw(
                "email.automation.test.run",
                "create",
                [[{"scenario_id": self.scenario.id, "res_id": self.janina.id, "test_email": "x@example.com"}]],
            )
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.assertFalse(self.env["email.automation.participant"].search([("scenario_id", "=", self.scenario.id)]))

    def test_test_mode_cannot_be_switched_on_over_rpc_with_real_participants(self):
        self.scenario.action_start()
        self.scenario._enrol(self.tom.ids)
        self.authenticate("tour_ea_manager", "tour_ea_manager")
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw(
                "email.automation.scenario",
                "write",
                [self.scenario.ids, {"is_test_mode": True, "test_email": "inbox@example.com"}],
            )
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.ValidationError")
        self.scenario.invalidate_recordset()
        self.assertFalse(self.scenario.is_test_mode)
