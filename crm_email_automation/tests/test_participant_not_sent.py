from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import Form, tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestParticipantNotSent(EmailAutomationCommon):
    """A participation whose e-mails were all skipped ends "No E-mail Sent" with the reason,
    and a step may run after a skipped e-mail."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)
        cls.env["ir.config_parameter"].set_param("crm_email_automation.consent_policy", "opt_in")
        cls.partner_en._email_consent_record("granted", "user", reason="Test customer")
        # partner_pl gave no consent: marketing e-mail to them is skipped.
        cls.call = cls.env.ref("mail.mail_activity_data_call")

    def mail_then_call(self, run_if_parent_skipped=False, category="marketing"):
        scenario = self.create_scenario(
            category=category,
            steps=[{"name": "Hello", "trigger_type": "begin"}],
        )
        mail_step = scenario.step_ids
        scenario.write(
            {
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Call",
                            "sequence": 5,
                            "trigger_type": "after_parent",
                            "parent_id": mail_step.id,
                            "delay": 1,
                            "delay_unit": "days",
                            "action_type": "activity",
                            "activity_type_id": self.call.id,
                            "activity_summary": "Call the customer",
                            "run_if_parent_skipped": run_if_parent_skipped,
                        },
                    )
                ]
            }
        )
        return scenario

    def participant(self, scenario, partner):
        return scenario.participant_ids.filtered(lambda p: p.partner_id == partner)

    def test_every_mail_skipped_ends_not_sent_with_the_reason(self):
        scenario = self.create_scenario(category="marketing")
        scenario._enrol((self.partner_pl | self.partner_en).ids)
        self.run_queue()
        self.assertSentTo("john@example.com")
        self.assertSentTo("jan@example.pl", 0)
        skipped = self.participant(scenario, self.partner_pl)
        self.assertEqual(skipped.state, "not_sent")
        self.assertEqual(skipped.not_sent_reason, "no_consent")
        self.assertTrue(skipped.ended_at)
        sent = self.participant(scenario, self.partner_en)
        self.assertEqual(sent.state, "completed")
        self.assertFalse(sent.not_sent_reason)
        # The list of nothing-sent participations is one filter away.
        self.assertEqual(
            self.env["email.automation.participant"].search(
                [("scenario_id", "=", scenario.id), ("state", "=", "not_sent")]
            ),
            skipped,
        )

    def test_second_mail_sent_after_a_skipped_first_is_completed(self):
        scenario = self.create_scenario(
            category="marketing",
            steps=[
                {"name": "First", "trigger_type": "begin", "condition_domain": "[('name', '=', 'nobody')]"},
                {"name": "Second", "trigger_type": "begin"},
            ],
        )
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        self.assertSentTo("john@example.com")
        self.assertEqual(self.participant(scenario, self.partner_en).state, "completed")

    def test_the_reason_is_the_first_mail_that_did_not_go(self):
        scenario = self.create_scenario(
            category="marketing",
            steps=[
                {"name": "First", "trigger_type": "begin", "condition_domain": "[('name', '=', 'nobody')]"},
                {"name": "Second", "trigger_type": "begin", "delay": 1, "delay_unit": "hours"},
            ],
        )
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        with freeze_time(scenario.participant_ids.enrolled_at + timedelta(hours=2)):
            self.run_queue()
        participant = self.participant(scenario, self.partner_pl)
        self.assertEqual(participant.trace_ids.sorted("id").mapped("reason"), ["condition_false", "no_consent"])
        self.assertEqual(participant.state, "not_sent")
        self.assertEqual(participant.not_sent_reason, "condition_false")

    def test_end_step_after_a_skipped_mail_ends_not_sent(self):
        scenario = self.create_scenario(
            category="marketing",
            steps=[
                {"name": "Hello", "trigger_type": "begin"},
                {"name": "Stop", "trigger_type": "begin", "delay": 1, "delay_unit": "hours", "action_type": "end"},
            ],
        )
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        with freeze_time(scenario.participant_ids.enrolled_at + timedelta(hours=2)):
            self.run_queue()
        participant = self.participant(scenario, self.partner_pl)
        self.assertEqual((participant.state, participant.exit_reason), ("not_sent", "end_step"))
        self.assertEqual(participant.not_sent_reason, "no_consent")

    def test_activity_only_scenario_and_holdout_end_completed(self):
        scenario = self.create_scenario(
            category="marketing",
            steps=[
                {"name": "Call", "trigger_type": "begin", "action_type": "activity", "activity_type_id": self.call.id}
            ],
        )
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        self.assertEqual(self.participant(scenario, self.partner_pl).state, "completed", "no e-mail step: completed")

        holdout = self.create_scenario(category="marketing", holdout_percent=100, name="All held out")
        holdout._enrol(self.partner_en.ids)
        self.run_queue()
        participant = self.participant(holdout, self.partner_en)
        self.assertTrue(participant.is_holdout)
        self.assertEqual(participant.state, "completed", "held out on purpose, not a failure to send")

    def test_activity_after_a_skipped_mail_is_cancelled_by_default(self):
        scenario = self.mail_then_call()
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        participant = self.participant(scenario, self.partner_pl)
        call_trace = participant.trace_ids.filtered(lambda t: t.step_id.action_type == "activity")
        self.assertEqual((call_trace.state, call_trace.reason), ("cancelled", "parent_not_done"))
        self.assertEqual(participant.state, "not_sent")

    def test_activity_marked_to_run_after_a_skipped_mail_runs(self):
        scenario = self.mail_then_call(run_if_parent_skipped=True)
        scenario._enrol(self.partner_pl.ids)
        self.run_queue()
        participant = self.participant(scenario, self.partner_pl)
        mail_trace = participant.trace_ids.filtered(lambda t: t.step_id.action_type == "mail")
        call_trace = participant.trace_ids.filtered(lambda t: t.step_id.action_type == "activity")
        self.assertEqual((mail_trace.state, mail_trace.reason), ("skipped", "no_consent"))
        self.assertEqual(call_trace.state, "scheduled", "the call waits for its delay after the skipped e-mail")
        self.assertEqual(participant.state, "running")

        with freeze_time(call_trace.scheduled_at + timedelta(minutes=1)):
            self.run_queue()
        self.assertEqual(call_trace.state, "sent")
        activity = self.env["mail.activity"].search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "=", self.partner_pl.id),
                ("summary", "=", "Call the customer"),
            ]
        )
        self.assertEqual(len(activity), 1)
        self.assertEqual(participant.state, "not_sent", "the call ran, but no e-mail was sent")
        self.assertEqual(participant.not_sent_reason, "no_consent")
        self.assertSentTo("jan@example.pl", 0)

    def test_option_does_not_run_the_step_after_a_failed_mail_or_twice_after_a_sent_one(self):
        scenario = self.mail_then_call(run_if_parent_skipped=True)
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        participant = self.participant(scenario, self.partner_en)
        call_traces = participant.trace_ids.filtered(lambda t: t.step_id.action_type == "activity")
        self.assertEqual(len(call_traces), 1)
        self.assertEqual(call_traces.state, "scheduled")

        failing = self.mail_then_call(run_if_parent_skipped=True)
        failing.step_ids.filtered(lambda s: s.action_type == "mail").mail_template_id = self._create_template(
            "res.partner", "{{ object.no_such_field }}", "x", "<p>x</p>", "<p>x</p>"
        )
        failing._enrol(self.partner_en.ids)
        self.run_queue()
        trace = self.participant(failing, self.partner_en).trace_ids
        self.assertEqual(trace.filtered(lambda t: t.step_id.action_type == "mail").state, "failed")
        self.assertEqual(trace.filtered(lambda t: t.step_id.action_type == "activity").state, "cancelled")

    def test_option_shown_and_kept_only_after_a_mail_step(self):
        scenario = self.mail_then_call()
        _mail_step, call_step = scenario.step_ids.sorted("sequence")
        self.assertEqual(call_step.parent_action_type, "mail")
        with Form(call_step) as form:
            form.run_if_parent_skipped = True
        self.assertTrue(call_step.run_if_parent_skipped)
        arch = self.env["email.automation.step"].get_view(view_type="form")["arch"]
        self.assertIn('name="run_if_parent_skipped"', arch)
        with Form(call_step) as form:
            form.trigger_type = "begin"
        self.assertFalse(call_step.run_if_parent_skipped, "a first step follows no e-mail")
