from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon, body_text


@tagged("post_install", "-at_install")
class TestSending(EmailAutomationCommon):
    def test_each_recipient_gets_the_mail_in_their_language(self):
        scenario = self.create_scenario()
        participants = scenario._enrol((self.partner_pl | self.partner_en).ids)
        self.assertEqual(len(participants), 2)
        self.assertFalse(self.smtp.messages, "enrolment alone must not send anything")

        self.run_queue()

        (polish,) = self.assertSentTo("jan@example.pl")
        self.assertEqual(polish["Subject"], "Witamy, Jan Kowalski")
        self.assertIn("Dzień dobry", body_text(polish))
        (english,) = self.assertSentTo("john@example.com")
        self.assertEqual(english["Subject"], "Welcome John Smith")
        self.assertIn("Hello", body_text(english))
        self.assertIn("sales@example.com", english["From"])

        trace = participants.filtered(lambda p: p.partner_id == self.partner_pl).trace_ids
        self.assertEqual(trace.state, "sent")
        self.assertEqual(polish["X-Odoo-Automation-Trace"], str(trace.id))
        self.assertEqual(trace.message_id, polish["Message-Id"])
        # The sent e-mail is in the contact's chatter, threaded by its Message-Id.
        logged = self.env["mail.message"].search(
            [("model", "=", "res.partner"), ("res_id", "=", self.partner_pl.id), ("message_id", "=", trace.message_id)]
        )
        self.assertEqual(logged, trace.mail_message_id)
        self.assertEqual(logged.message_type, "email_outgoing")
        self.assertIn("Dzień dobry", str(logged.body))
        self.assertEqual(participants.mapped("state"), ["completed", "completed"])

    def test_test_mode_sends_to_the_test_address_marked_as_test(self):
        scenario = self.create_scenario(is_test_mode=True, test_email="qa@example.com")
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        self.assertFalse(self.smtp.messages_to("john@example.com"))
        (message,) = self.assertSentTo("qa@example.com")
        self.assertEqual(message["Subject"], "[TEST] Welcome John Smith")
        self.assertEqual(message["X-Odoo-Automation-Test"], "1")
        self.assertTrue(scenario.participant_ids.trace_ids.is_test)

    def test_transient_smtp_error_is_retried_with_backoff_and_sent_once(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        self.smtp.handler.reply = lambda message: "451 4.3.0 Mailbox busy, try later"
        now = fields.Datetime.now()
        with freeze_time(now):
            self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.state, "scheduled")
        self.assertEqual(trace.reason, "smtp_transient")
        self.assertIn("451", trace.reason_detail)
        self.assertEqual(trace.attempt_count, 1)
        self.assertEqual(trace.scheduled_at, now + timedelta(minutes=5))
        self.assertFalse(self.smtp.messages)

        self.smtp.handler.reply = None
        with freeze_time(now + timedelta(minutes=2)):
            self.run_queue()
        self.assertEqual(trace.state, "scheduled", "not due again before the backoff ends")
        with freeze_time(now + timedelta(minutes=6)):
            self.run_queue()
        self.assertEqual(trace.state, "sent")
        self.assertEqual(trace.attempt_count, 2)
        self.assertSentTo("john@example.com", 1)

    def test_transient_errors_fail_the_trace_after_the_last_attempt(self):
        self.env["ir.config_parameter"].set_param("crm_email_automation.max_attempts", 2)
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        self.smtp.handler.reply = lambda message: "421 4.7.0 Too many connections"
        now = fields.Datetime.now()
        with freeze_time(now):
            self.run_queue()
        with freeze_time(now + timedelta(hours=1)):
            self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.state, "failed")
        self.assertEqual(trace.reason, "retries_exhausted")
        self.assertEqual(trace.attempt_count, 2)
        self.assertFalse(self.smtp.messages)

    def test_permanent_smtp_error_fails_with_the_server_reason(self):
        scenario = self.create_scenario()
        scenario._enrol((self.partner_en | self.partner_pl).ids)
        self.smtp.handler.reply = lambda message: ("550 5.1.1 No such user" if "john@" in str(message["To"]) else None)
        self.run_queue()
        traces = scenario.participant_ids.trace_ids
        failed = traces.filtered(lambda t: t.partner_id == self.partner_en)
        self.assertEqual(failed.state, "failed")
        self.assertEqual(failed.reason, "smtp_permanent")
        self.assertIn("No such user", failed.reason_detail)
        self.assertEqual((traces - failed).state, "sent")
        self.assertSentTo("jan@example.pl", 1)

    def test_missing_or_invalid_address_is_skipped_with_reason(self):
        no_email = self.env["res.partner"].create({"name": "No Mail"})
        bad_email = self.env["res.partner"].create({"name": "Bad Mail", "email": "not-an-address"})
        scenario = self.create_scenario()
        scenario._enrol((no_email | bad_email).ids)
        self.run_queue()
        traces = scenario.participant_ids.trace_ids
        self.assertEqual(traces.filtered(lambda t: t.partner_id == no_email).reason, "no_recipient")
        self.assertEqual(traces.filtered(lambda t: t.partner_id == bad_email).reason, "invalid_email")
        self.assertEqual(set(traces.mapped("state")), {"skipped"})
        self.assertFalse(self.smtp.messages)

    def test_template_error_fails_only_the_record_it_breaks_on(self):
        broken = self.env["res.partner"].create({"name": "Broken", "email": "broken@example.com", "lang": "en_US"})
        self.template_partner.body_html = (
            "<p>Hello <t t-out='object.name'/><t t-if=\"object.name == 'Broken'\" t-out='object.no_such_field'/></p>"
        )
        scenario = self.create_scenario()
        scenario._enrol((broken | self.partner_en).ids)
        self.run_queue()
        traces = scenario.participant_ids.trace_ids
        failed = traces.filtered(lambda t: t.partner_id == broken)
        self.assertEqual(failed.state, "failed")
        self.assertEqual(failed.reason, "render_error")
        self.assertEqual((traces - failed).state, "sent")
        self.assertSentTo("john@example.com", 1)
        self.assertFalse(self.smtp.messages_to("broken@example.com"))

    def test_activity_step_is_assigned_to_the_salesperson(self):
        order = self.create_order(user_id=self.user_salesman.id)
        scenario = self.create_scenario(
            "sale.order",
            steps=[
                {
                    "name": "Call the customer",
                    "trigger_type": "begin",
                    "action_type": "activity",
                    "mail_template_id": False,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                    "activity_summary": "Call about the quotation",
                    "activity_deadline_days": 2,
                }
            ],
        )
        scenario._enrol(order.ids)
        self.run_queue()
        activity = order.activity_ids
        self.assertEqual(activity.summary, "Call about the quotation")
        self.assertEqual(activity.user_id, self.user_salesman)
        self.assertEqual(activity.date_deadline, fields.Date.context_today(order) + timedelta(days=2))
        self.assertEqual(scenario.participant_ids.trace_ids.state, "sent")
        self.assertFalse(self.smtp.messages)

    def test_the_scheduled_action_processes_the_queue(self):
        scenario = self.create_scenario(trigger="on_create", domain="[('email', '=', 'new@example.com')]")
        self.env["res.partner"].create({"name": "New Customer", "email": "new@example.com", "lang": "en_US"})
        cron = self.env.ref("crm_email_automation.ir_cron_process_queue")
        self.assertTrue(cron.active)
        cron.method_direct_trigger()
        self.assertEqual(len(scenario.participant_ids), 1)
        (message,) = self.assertSentTo("new@example.com")
        self.assertEqual(message["Subject"], "Welcome New Customer")

    def test_a_neutralized_database_sends_nothing(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        self.env["ir.config_parameter"].set_param("database.is_neutralized", True)
        self.run_queue()
        self.assertFalse(self.smtp.messages)
        self.assertEqual(scenario.participant_ids.trace_ids.state, "scheduled")
