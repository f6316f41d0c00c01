from datetime import timedelta

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestFlow(EmailAutomationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The reminders below are marketing e-mail: the customers agreed to it, and the
        # test's clock (any hour of the day) is not what these tests check.
        (cls.partner_pl | cls.partner_en)._email_consent_record("granted", "user", reason="Test customers")
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)

    def two_step_scenario(self, **values):
        return self.create_scenario(
            "sale.order",
            steps=[
                {"name": "Reminder", "trigger_type": "begin"},
                {
                    "name": "Second reminder",
                    "trigger_type": "after_parent",
                    "delay": 3,
                    "delay_unit": "days",
                    "condition_domain": "[('state', 'in', ['draft', 'sent'])]",
                },
            ],
            category="marketing",
            goal_domain="[('state', '=', 'sale')]",
            **values,
        )

    def test_second_step_waits_its_delay_after_the_first(self):
        scenario = self.two_step_scenario()
        first, second = scenario.step_ids.sorted("sequence")
        self.assertEqual(second.parent_id, first, "a step after the previous step follows the one listed before it")
        order = self.create_order(self.partner_pl)
        now = fields.Datetime.now()
        with freeze_time(now):
            scenario._enrol(order.ids)
            self.run_queue()
        self.assertSentTo("jan@example.pl", 1)
        second_trace = scenario.participant_ids.trace_ids.filtered(lambda t: t.step_id == second)
        self.assertEqual(second_trace.state, "scheduled")
        self.assertEqual(second_trace.scheduled_at, now + timedelta(days=3))
        with freeze_time(now + timedelta(days=2, hours=23)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 1)
        with freeze_time(now + timedelta(days=3, minutes=1)):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 2)
        self.assertEqual(scenario.participant_ids.state, "completed")

    def test_goal_reached_converts_and_cancels_the_pending_steps(self):
        scenario = self.two_step_scenario()
        order = self.create_order(self.partner_en)
        now = fields.Datetime.now()
        with freeze_time(now):
            scenario._enrol(order.ids)
            self.run_queue()
        order.action_confirm()
        with freeze_time(now + timedelta(days=4)):
            self.run_queue()
        participant = scenario.participant_ids
        self.assertEqual(participant.state, "converted")
        self.assertEqual(participant.exit_reason, "goal_reached")
        second = participant.trace_ids.filtered(lambda t: t.step_id.name == "Second reminder")
        self.assertEqual((second.state, second.reason), ("cancelled", "goal_reached"))
        self.assertSentTo("john@example.com", 1)

    def test_false_condition_skips_with_reason_and_cancels_what_follows(self):
        scenario = self.create_scenario(
            "sale.order",
            steps=[
                {
                    "name": "Only for quotations",
                    "trigger_type": "begin",
                    "condition_domain": "[('state', '=', 'draft')]",
                },
                {"name": "Follow-up", "trigger_type": "after_parent", "delay": 1},
            ],
        )
        order = self.create_order(self.partner_en)
        scenario._enrol(order.ids)
        order.action_quotation_sent()  # no longer a draft when the step is due
        self.run_queue()
        traces = scenario.participant_ids.trace_ids
        first = traces.filtered(lambda t: t.step_id.name == "Only for quotations")
        follow_up = traces.filtered(lambda t: t.step_id.name == "Follow-up")
        self.assertEqual((first.state, first.reason), ("skipped", "condition_false"))
        self.assertEqual((follow_up.state, follow_up.reason), ("cancelled", "parent_not_done"))
        # Nothing was sent: the participation says so, with the reason (issue 9).
        participant = scenario.participant_ids
        self.assertEqual((participant.state, participant.not_sent_reason), ("not_sent", "condition_false"))
        self.assertFalse(self.smtp.messages)

    def test_deleted_record_skips_and_exits(self):
        scenario = self.create_scenario()
        partner = self.env["res.partner"].create({"name": "Gone", "email": "gone@example.com"})
        scenario._enrol(partner.ids)
        partner.unlink()
        self.run_queue()
        participant = scenario.participant_ids
        self.assertEqual((participant.state, participant.exit_reason), ("exited", "record_deleted"))
        self.assertEqual(participant.trace_ids.reason, "record_deleted")
        self.assertFalse(self.smtp.messages)

    def test_end_step_completes_the_participant(self):
        scenario = self.create_scenario(
            steps=[
                {"name": "Stop here", "trigger_type": "begin", "action_type": "end", "mail_template_id": False},
                {"name": "Never", "trigger_type": "after_parent", "delay": 1},
            ]
        )
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        self.assertEqual(scenario.participant_ids.state, "completed")
        self.assertEqual(scenario.participant_ids.exit_reason, "end_step")
        self.assertFalse(self.smtp.messages)

    def test_reentry_once_per_record(self):
        scenario = self.create_scenario(reentry_policy="once")
        self.assertEqual(len(scenario._enrol(self.partner_en.ids)), 1)
        self.run_queue()
        self.assertFalse(scenario._enrol(self.partner_en.ids), "once means once, even after completion")

    def test_reentry_once_per_period(self):
        scenario = self.create_scenario(reentry_policy="period", reentry_days=30)
        now = fields.Datetime.now()
        with freeze_time(now):
            scenario._enrol(self.partner_en.ids)
            self.run_queue()
        with freeze_time(now + timedelta(days=29)):
            self.assertFalse(scenario._enrol(self.partner_en.ids))
        with freeze_time(now + timedelta(days=31)):
            self.assertEqual(len(scenario._enrol(self.partner_en.ids)), 1)
            self.run_queue()
        self.assertSentTo("john@example.com", 2)

    def test_reentry_every_time_but_never_twice_at_once(self):
        scenario = self.create_scenario(
            reentry_policy="always",
            steps=[{"name": "Later", "trigger_type": "begin", "delay": 1, "delay_unit": "hours"}],
        )
        self.assertEqual(len(scenario._enrol(self.partner_en.ids)), 1)
        self.assertFalse(scenario._enrol(self.partner_en.ids), "still running: no second participation")
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.run_queue()
            self.assertEqual(len(scenario._enrol(self.partner_en.ids)), 1)
        self.assertEqual(len(scenario.participant_ids), 2)

    def test_duplicates_are_refused_by_the_database(self):
        scenario = self.create_scenario()
        participant = scenario._enrol(self.partner_en.ids)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["email.automation.participant"].create({"scenario_id": scenario.id, "res_id": self.partner_en.id})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["email.automation.trace"].create(
                {"participant_id": participant.id, "step_id": scenario.step_ids.id}
            )

    def test_paused_scenario_holds_its_queue_and_stopped_cancels_it(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        scenario.action_pause()
        self.run_queue()
        self.assertFalse(self.smtp.messages)
        self.assertEqual(scenario.participant_ids.trace_ids.state, "scheduled")
        scenario.action_start()
        scenario._enrol(self.partner_pl.ids)
        scenario.action_pause()
        scenario.action_stop()
        self.run_queue()
        self.assertFalse(self.smtp.messages)
        self.assertEqual(set(scenario.participant_ids.mapped("state")), {"cancelled"})
        self.assertEqual(set(scenario.participant_ids.trace_ids.mapped("reason")), {"scenario_stopped"})

    def test_company_of_the_scenario_limits_its_records(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        scenario = self.create_scenario("sale.order")
        ours = self.create_order(self.partner_en)
        theirs = self.create_order(self.partner_pl, company_id=other_company.id)
        scenario._enrol((ours | theirs).ids)
        self.assertEqual(scenario.participant_ids.res_id, ours.id)
        self.assertEqual(scenario.participant_ids.company_id, self.env.company)

    def test_holdout_share_receives_nothing_but_stays_measured(self):
        everyone = self.create_scenario(holdout_percent=100)
        everyone._enrol((self.partner_en | self.partner_pl).ids)
        self.run_queue()
        self.assertFalse(self.smtp.messages)
        self.assertTrue(all(everyone.participant_ids.mapped("is_holdout")))
        self.assertEqual(set(everyone.participant_ids.trace_ids.mapped("reason")), {"holdout"})
        nobody = self.create_scenario(holdout_percent=0, name="No holdout")
        nobody._enrol(self.partner_en.ids)
        self.run_queue()
        self.assertFalse(nobody.participant_ids.is_holdout)
        self.assertSentTo("john@example.com", 1)

    def test_run_due_steps_now_is_for_managers(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        with self.assertRaises(UserError):
            scenario.with_user(self.user_user).action_run_due_steps()
        self.assertFalse(self.smtp.messages)
        result = scenario.with_user(self.user_manager).action_run_due_steps()
        self.assertIn("Steps processed: 1.", result["params"]["message"])
        self.assertSentTo("john@example.com", 1)

    def test_records_triggered_before_a_pause_enter_when_it_resumes(self):
        scenario = self.create_scenario(trigger="on_create", domain="[('email', '=', 'paused@example.com')]")
        self.env["res.partner"].create({"name": "Paused", "email": "paused@example.com", "lang": "en_US"})
        scenario.action_pause()
        self.run_queue()
        self.assertFalse(scenario.participant_ids)
        scenario.action_start()
        self.run_queue()
        self.assertEqual(len(scenario.participant_ids), 1)
        self.assertSentTo("paused@example.com", 1)
