from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon, body_text


@tagged("post_install", "-at_install")
class TestDemoIdleQuotation(EmailAutomationCommon):
    """The demo scenario "Idle quotation: reminder after 48 h, second after 3 more days
    unless confirmed", end to end, as installed with the demo data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = cls.env.ref("crm_email_automation.email_automation_scenario_demo_idle_quotation")
        cls.start = fields.Datetime.now()
        # Started now, and only on this test's customers: the demo quotations are idle too.
        cls.scenario.write({"state": "running", "date_started": cls.start, "time_checked_at": cls.start})
        customers = (cls.partner_pl | cls.partner_en).ids
        cls.scenario.domain = f"[('state', 'in', ['draft', 'sent']), ('partner_id', 'in', {customers})]"
        # The reminders are marketing e-mail: the customers agreed to it, and the test's clock
        # (any hour of the day) is not what it checks, so quiet hours are off.
        (cls.partner_pl | cls.partner_en)._email_consent_record("granted", "user", reason="Test customers")
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)

    def make_idle_quotation(self, partner):
        order = self.create_order(partner)
        self.env.flush_all()
        self.env.cr.execute("UPDATE sale_order SET write_date = %s WHERE id = %s", [self.start, order.id])
        order.invalidate_recordset(["write_date"])
        return order

    def test_two_reminders_in_the_customers_language(self):
        order = self.make_idle_quotation(self.partner_pl)
        with freeze_time(self.start + timedelta(hours=47)):
            self.run_queue()
        self.assertFalse(self.smtp.messages, "not idle for 48 hours yet")
        with freeze_time(self.start + timedelta(hours=49)):
            self.run_queue()
        (first,) = self.assertSentTo("jan@example.pl")
        # The first reminder tests two subjects: the customer gets its variant's, in Polish.
        variant = self.scenario.participant_ids.filtered(lambda p: p.res_id == order.id).trace_ids.variant_id
        self.assertIn(variant, self.scenario.step_ids.variant_ids)
        expected_subject = variant._render_field("subject", order.ids, set_lang="pl_PL")
        self.assertEqual(first["Subject"], expected_subject[order.id])
        self.assertIn(order.name, first["Subject"])
        self.assertNotEqual(
            first["Subject"],
            variant._render_field("subject", order.ids, set_lang="en_US")[order.id],
            "the Polish customer gets the Polish text",
        )
        self.assertIn(order.name, body_text(first))

        with freeze_time(self.start + timedelta(hours=49, days=2)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 1)
        with freeze_time(self.start + timedelta(hours=50, days=3)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 2)
        participant = self.scenario.participant_ids.filtered(lambda p: p.res_id == order.id)
        self.assertEqual(participant.state, "completed")

    def test_confirming_the_quotation_stops_the_second_reminder(self):
        order = self.make_idle_quotation(self.partner_en)
        with freeze_time(self.start + timedelta(hours=49)):
            self.run_queue()
        self.assertSentTo("john@example.com", 1)
        order.action_confirm()
        with freeze_time(self.start + timedelta(hours=50, days=3)):
            self.run_queue()
        self.assertSentTo("john@example.com", 1)
        participant = self.scenario.participant_ids.filtered(lambda p: p.res_id == order.id)
        self.assertEqual(participant.state, "converted")
        self.assertEqual(participant.trace_ids.filtered(lambda t: t.state == "cancelled").reason, "goal_reached")
