from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon, body_text


@tagged("post_install", "-at_install")
class TestDemoIdleQuotation(EmailAutomationCommon):
    """The demo scenario "Idle quotation: reminder after 48 h, second after 3 more days
    unless confirmed", end to end, as installed with the demo data: a first reminder not
    opened within two days goes again with another subject."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = cls.env.ref("crm_email_automation.email_automation_scenario_demo_idle_quotation")
        cls.start = fields.Datetime.now()
        # Started now, and only on this test's customers: the demo quotations are idle too.
        cls.scenario.write({"state": "running", "date_started": cls.start, "time_checked_at": cls.start})
        customers = (cls.partner_pl | cls.partner_en).ids
        cls.scenario.domain = f"[('state', 'in', ['draft', 'sent']), ('partner_id', 'in', {customers})]"
        # The demo holds a share of the quotations out; this test's quotations are all mailed.
        cls.scenario.holdout_percent = 0
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

        with freeze_time(self.start + timedelta(hours=48, days=2)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 1)
        # Not opened within two days: the same quotation again, under another subject, in Polish.
        with freeze_time(self.start + timedelta(hours=49, days=2)):
            self.run_queue()
        nudge = self.env.ref("crm_email_automation.mail_template_demo_quotation_not_opened")
        second = self.assertSentTo("jan@example.pl", 2)[1]
        self.assertEqual(second["Subject"], f"Czy nasza oferta {order.name} do Państwa dotarła?")
        self.assertNotEqual(second["Subject"], nudge._render_field("subject", order.ids, set_lang="en_US")[order.id])
        self.assertIn("Podgląd oferty", body_text(second))
        with freeze_time(self.start + timedelta(hours=50, days=3)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 3)
        participant = self.scenario.participant_ids.filtered(lambda p: p.res_id == order.id)
        self.assertEqual(participant.state, "completed")

    def test_opened_reminder_is_not_sent_again(self):
        order = self.make_idle_quotation(self.partner_en)
        with freeze_time(self.start + timedelta(hours=49)):
            self.run_queue()
        (first,) = self.assertSentTo("john@example.com")
        reminder_1 = self.env.ref("crm_email_automation.email_automation_step_demo_idle_quotation_reminder_1")
        participant = self.scenario.participant_ids.filtered(lambda p: p.res_id == order.id)
        trace = participant.trace_ids.filtered(lambda t: t.step_id == reminder_1)
        self.assertTrue(trace.outcome_due_at, "waiting two days to know whether it is opened")
        # The customer's mail client fetches the open pixel a day later.
        with freeze_time(self.start + timedelta(hours=73)):
            self.assertEqual(
                self.env["email.automation.event"]._track_open(trace.id, "Mozilla/5.0 Thunderbird"), "open"
            )
        with freeze_time(self.start + timedelta(hours=50, days=3)):
            self.run_queue()
        messages = self.assertSentTo("john@example.com", 2)
        self.assertEqual(messages[1]["Subject"], f"Reminder: your quotation {order.name}")
        self.assertNotIn("reach you", first["Subject"] + messages[1]["Subject"])

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
        cancelled = participant.trace_ids.filtered(lambda t: t.state == "cancelled")
        self.assertEqual(set(cancelled.mapped("reason")), {"goal_reached"})
        # The second reminder, and the reminder not opened whose window was still open.
        self.assertEqual(
            set(cancelled.step_id.mapped("trigger_type")), {"after_parent", "mail_not_opened"}, cancelled.step_id
        )
