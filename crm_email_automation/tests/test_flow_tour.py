from unittest.mock import patch

from odoo import fields
from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from .common import EmailAutomationCommon, warm_up_http_statics

# The Hoot suite of this module's flow diagram (static/tests/flow_diagram.test.js).
HOOT_SUITE = "@crm_email_automation/flow_diagram"


def hoot_job_id(name):
    """The id Hoot gives a suite or a test: the hash addons/web/tests/test_js.py computes."""
    value = 0
    for char in name:
        value = ((value << 5) - value + ord(char)) & 0xFFFFFFFF
    return f"{value:08x}"


@tagged("post_install", "-at_install")
class TestFlowDiagramUnit(HttpCase):
    """The flow diagram's Hoot unit tests, run in headless Chromium."""

    def test_hoot_job_id_matches_web(self):
        # The values addons/web/tests/test_js.py checks its own hash against.
        self.assertEqual(hoot_job_id("@web/core"), "e39ce9ba")
        self.assertEqual(hoot_job_id("@web/core/autocomplete"), "69a6561d")

    def test_flow_diagram_hoot_suite(self):
        warm_up_http_statics()
        self.browser_js(
            f"/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&id={hoot_job_id(HOOT_SUITE)}",
            "",
            "",
            login="admin",
            timeout=900,
            success_signal="[HOOT] Test suite succeeded",
            error_checker=lambda message: "[HOOT]" not in message,
        )


@tagged("post_install", "-at_install")
class TestFlowDiagramTour(EmailAutomationCommon, HttpCase):
    """The manager reads a scenario's numbers in its flow and adds a branch to it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["res.lang"]._activate_lang("en_US")
        cls.user_manager.lang = "en_US"
        cls.template_branch = cls.env["mail.template"].create(
            {
                "name": "Tour flow template",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "subject": "Did you see this?",
                "body_html": "<p>Just checking.</p>",
            }
        )

    def setUp(self):
        super().setUp()
        # The common class marks the running test with True; the HTTP test cursor needs the
        # test itself, as Odoo's own runner sets it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))

    def test_flow_tour_counts_and_branch(self):
        # The manager is its responsible: only they (or an administrator) may add a step.
        scenario = self.create_scenario(
            steps=[
                {"name": "Tour welcome", "trigger_type": "begin"},
                {"name": "Tour reminder", "trigger_type": "after_parent", "delay": 2},
            ],
            start=False,
            user_id=self.user_manager.id,
        )
        welcome, reminder = scenario.step_ids.sorted("sequence")
        partners = self.env["res.partner"].create(
            [{"name": f"Tour flow {i}", "email": f"tourflow{i}@example.com"} for i in range(3)]
        )
        participants = self.env["email.automation.participant"].create(
            [{"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id} for partner in partners]
        )
        now = fields.Datetime.now()
        engagement = [{"opened_at": now, "clicked_at": now}, {"opened_at": now}, {}]
        self.env["email.automation.trace"].create(
            [
                {
                    "participant_id": participant.id,
                    "step_id": welcome.id,
                    "state": "sent",
                    "sent_at": now,
                    "message_id": f"<tour-flow-{participant.id}@example.com>",
                    **values,
                }
                for participant, values in zip(participants, engagement, strict=True)
            ]
            + [{"participant_id": participants[0].id, "step_id": reminder.id, "state": "scheduled"}]
        )

        self.start_tour(
            f"/odoo/action-crm_email_automation.email_automation_scenario_action/{scenario.id}",
            "crm_email_automation_flow_tour",
            login=self.user_manager.login,
        )

        branch = scenario.step_ids.filtered(lambda step: step.name == "Tour branch")
        self.assertEqual(len(branch), 1, "The step added in the flow is saved.")
        self.assertEqual(branch.parent_id, welcome)
        self.assertEqual(branch.trigger_type, "after_parent")
        self.assertEqual(branch.mail_template_id, self.template_branch)
        self.assertEqual(welcome.child_ids, reminder | branch, "The welcome e-mail now branches in two.")
