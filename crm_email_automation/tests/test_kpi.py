from odoo import fields
from odoo.exceptions import UserError

from .common import EmailAutomationCommon


class TestScenarioKpi(EmailAutomationCommon):
    """The delivery and engagement figures on the scenario, from the traces' timestamps."""

    def _sent_trace(self, partner, **timestamps):
        participant = self.env["email.automation.participant"].create(
            {
                "scenario_id": self.scenario.id,
                "res_model": "res.partner",
                "res_id": partner.id,
                "partner_id": partner.id,
            }
        )
        return self.env["email.automation.trace"].create(
            {
                "participant_id": participant.id,
                "step_id": self.scenario.step_ids.id,
                "state": "sent",
                "sent_at": fields.Datetime.now(),
                "message_id": f"<kpi-{partner.id}@example.com>",
                **timestamps,
            }
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.env["email.automation.scenario"].create(
            {
                "name": "KPI",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "step_ids": [
                    (0, 0, {"name": "Hello", "action_type": "mail", "mail_template_id": self.template_partner.id})
                ],
            }
        )

    def test_ratios_of_sent_emails(self):
        now = fields.Datetime.now()
        partners = self.env["res.partner"].create(
            [{"name": f"KPI {i}", "email": f"kpi.{i}@example.com"} for i in range(4)]
        )
        self._sent_trace(partners[0], delivered_at=now, opened_at=now, clicked_at=now)
        self._sent_trace(partners[1], delivered_at=now, opened_at=now)
        self._sent_trace(partners[2], delivered_at=now)
        self._sent_trace(partners[3], bounced_at=now)
        # A test e-mail is not the audience's: it does not count.
        self._sent_trace(self.partner_en, delivered_at=now, opened_at=now, is_test=True)

        self.assertEqual(self.scenario.mail_sent_count, 4)
        self.assertEqual(self.scenario.delivered_ratio, 75.0)
        self.assertEqual(self.scenario.opened_ratio, 50.0)
        self.assertEqual(self.scenario.clicked_ratio, 25.0)
        self.assertEqual(self.scenario.bounced_ratio, 25.0)
        self.assertEqual(self.scenario.replied_ratio, 0.0)

        action = self.scenario.with_context(engagement_field="opened_at").action_view_engagement()
        opened = self.env["email.automation.trace"].search(action["domain"])
        self.assertEqual(opened.partner_id, partners[:2])

    def test_unknown_figure_refused(self):
        with self.assertRaises(UserError):
            self.scenario.with_context(engagement_field="create_date").action_view_engagement()
