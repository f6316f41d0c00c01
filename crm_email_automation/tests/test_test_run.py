from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged

from .test_policy import PolicyCommon

QA_ADDRESS = "qa-team@example.com"


@tagged("post_install", "-at_install")
class TestTestRun(PolicyCommon):
    """Test on a record: one record, a step at a time on demand, every e-mail to the test
    address marked as a test, what the policies would have done, no figure counts it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config.set_param("crm_email_automation.quiet_hours", False)

    def setUp(self):
        super().setUp()
        # A draft marketing scenario: tested before it goes live. Jan has no consent.
        self.scenario = self.marketing_scenario(
            start=False,
            user_id=self.user_manager.id,
            steps=[
                {"name": "Welcome", "trigger_type": "begin"},
                {"name": "Three days later", "trigger_type": "after_parent", "delay": 3, "delay_unit": "days"},
            ],
        )

    def start_test(self, partner, email=QA_ADDRESS):
        wizard = (
            self.env["email.automation.test.run"]
            .with_user(self.user_manager)
            .create({"scenario_id": self.scenario.id, "res_id": partner.id, "test_email": email})
        )
        wizard.action_start()
        return wizard

    def test_each_step_runs_on_demand_to_the_test_address_with_the_policy_verdict(self):
        due_before = self.env["email.automation.trace"]._count_due()
        wizard = self.start_test(self.partner_pl)
        self.assertFalse(self.smtp.messages, "starting the test sends nothing")
        self.assertEqual(self.env["email.automation.trace"]._count_due(), due_before, "no backlog for the queue")
        self.run_queue()
        self.assertFalse(self.smtp.messages, "the queue never runs a test run's steps")

        wizard.action_run_next_step()
        (message,) = self.assertSentTo(QA_ADDRESS)
        self.assertEqual(message["To"], QA_ADDRESS)
        self.assertEqual(message["X-Odoo-Automation-Test"], "1")
        self.assertEqual(message["Subject"], "[TEST] Witamy, Jan Kowalski", "in the record's contact's language")
        self.assertNotIn("jan@example.pl", message.as_string().lower())
        first = wizard.trace_ids.filtered(lambda t: t.step_id.name == "Welcome")
        self.assertEqual(first.state, "sent")
        self.assertTrue(first.is_test)
        self.assertEqual(first.test_verdict, "Would have been skipped: No marketing consent")
        # The unsubscribe link of a test e-mail unsubscribes nobody.
        token = message["List-Unsubscribe"].split(",")[0].strip(" <>").rsplit("/", 1)[1]
        self.assertFalse(self.env["email.automation.mail.sender"]._verify_unsubscribe_token(token))

        # The next step waits three days for real; here it runs at once.
        self.smtp.clear()
        wizard.action_run_next_step()
        self.assertSentTo(QA_ADDRESS)
        self.assertEqual(set(wizard.trace_ids.mapped("state")), {"sent"})
        self.assertEqual(wizard.participant_state, "completed")
        with self.assertRaises(UserError):
            wizard.action_run_next_step()

        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        self.scenario.invalidate_recordset()
        counts = self.scenario.read(["participant_count", "sent_count", "mail_sent_count", "scheduled_count"])[0]
        self.assertEqual(
            (counts["participant_count"], counts["sent_count"], counts["mail_sent_count"], counts["scheduled_count"]),
            (0, 0, 0, 0),
            "test runs count in no figure of the scenario",
        )
        self.assertEqual(self.scenario.step_ids[0].sent_count, 0)
        logged = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", self.partner_pl.id),
                ("message_type", "=", "email_outgoing"),
            ]
        )
        self.assertFalse(logged, "a test e-mail is not logged on the customer's record")

    def test_consented_contact_would_have_been_sent(self):
        self.grant(self.partner_en)
        wizard = self.start_test(self.partner_en)
        wizard.action_run_next_step()
        (message,) = self.assertSentTo(QA_ADDRESS)
        self.assertEqual(message["Subject"], "[TEST] Welcome John Smith")
        first = wizard.trace_ids.filtered(lambda t: t.step_id.name == "Welcome")
        self.assertEqual(first.test_verdict, "Would have been sent.")

    def test_test_run_never_blocks_or_counts_as_a_real_participation(self):
        self.grant(self.partner_en)
        wizard = self.start_test(self.partner_en)
        self.assertEqual(
            self.partner_en.with_user(self.user_manager).email_automation_participant_count,
            0,
            "the contact's E-mail Automation button does not show a test run",
        )
        self.scenario.action_start()
        participant = self.scenario._enrol(self.partner_en.ids)
        self.assertTrue(participant, "a test run in progress does not keep the record out")
        self.assertFalse(participant.is_test)
        self.assertTrue(wizard.participant_id.is_test)
        self.partner_en.invalidate_recordset()
        self.assertEqual(self.partner_en.with_user(self.user_manager).email_automation_participant_count, 1)
        self.run_queue()
        self.assertSentTo("john@example.com")
        self.assertFalse(self.smtp.messages_to(QA_ADDRESS), "the real participation's e-mail goes to the customer")

    def test_record_hidden_from_the_responsible_is_refused(self):
        order = self.create_order(user_id=self.env.ref("base.user_admin").id)
        scenario = self.create_scenario("sale.order", start=False, user_id=self.user_salesman.id)
        self.assertFalse(order.with_user(self.user_salesman).has_access("read"))
        wizard = (
            self.env["email.automation.test.run"]
            .with_user(self.user_manager)
            .create({"scenario_id": scenario.id, "res_id": order.id, "test_email": QA_ADDRESS})
        )
        with self.assertRaisesRegex(UserError, "may not read this record"):
            wizard.action_start()
        self.assertFalse(self.env["email.automation.participant"].search([("scenario_id", "=", scenario.id)]))


@tagged("post_install", "-at_install")
class TestTestModeSwitch(PolicyCommon):
    """Test mode never sends a real participant's e-mail to the test inbox, nor a test's
    to a customer: it cannot change while real participations are in progress."""

    def test_switching_test_mode_on_a_running_scenario_with_participants_is_refused(self):
        scenario = self.create_scenario(user_id=self.user_manager.id)
        scenario._enrol(self.partner_en.ids)
        as_manager = scenario.with_user(self.user_manager)
        with self.assertRaisesRegex(ValidationError, "participants in progress"):
            as_manager.write({"is_test_mode": True, "test_email": QA_ADDRESS})
        self.assertFalse(scenario.is_test_mode)
        # The customer's e-mail still goes to the customer.
        self.run_queue()
        self.assertSentTo("john@example.com")
        self.assertFalse(self.smtp.messages_to(QA_ADDRESS))

    def test_switching_test_mode_off_with_test_participants_in_progress_is_refused(self):
        scenario = self.create_scenario(user_id=self.user_manager.id, is_test_mode=True, test_email=QA_ADDRESS)
        scenario._enrol(self.partner_en.ids)
        with self.assertRaisesRegex(ValidationError, "participants in progress"):
            scenario.with_user(self.user_manager).write({"is_test_mode": False})
        self.assertTrue(scenario.is_test_mode)

    def test_test_mode_may_change_without_real_participants(self):
        scenario = self.create_scenario(user_id=self.user_manager.id, start=False)
        scenario.with_user(self.user_manager).write({"is_test_mode": True, "test_email": QA_ADDRESS})
        self.assertTrue(scenario.is_test_mode)
        scenario.action_start()
        # Rewriting the same value is no switch.
        scenario.with_user(self.user_manager).write({"is_test_mode": True})
        scenario.with_user(self.user_manager).write({"is_test_mode": False})
        self.assertFalse(scenario.is_test_mode)


@tagged("post_install", "-at_install")
class TestTestingSecurity(PolicyCommon):
    """Tests, previews and simulations are for managers; a real participation never
    becomes a test run."""

    def setUp(self):
        super().setUp()
        self.scenario = self.create_scenario()

    def test_plain_user_cannot_test_preview_or_simulate(self):
        user_env = self.env(user=self.user_user)
        with self.assertRaises(AccessError):
            user_env["email.automation.test.run"].create({"scenario_id": self.scenario.id})
        with self.assertRaises(AccessError):
            user_env["email.automation.preview"].create({"step_id": self.scenario.step_ids[0].id})
        with self.assertRaises(AccessError):
            user_env["email.automation.simulate"].create({"scenario_id": self.scenario.id})
        # A form's onchange checks no access right: the figures themselves refuse.
        with self.assertRaises(AccessError):
            user_env["email.automation.simulate"].onchange(
                {"scenario_id": self.scenario.id}, ["scenario_id"], {"scenario_id": {}, "enter_count": {}, "sample": {}}
            )
        with self.assertRaises(AccessError):
            user_env["email.automation.preview"].onchange(
                {"step_id": self.scenario.step_ids[0].id, "res_id": self.partner_pl.id},
                ["res_id"],
                {"step_id": {}, "res_id": {}, "res_model": {}, "preview_subject": {}, "preview_body": {}},
            )
        with self.assertRaises(AccessError):
            self.scenario.with_user(self.user_user).action_open_simulation()

    def test_nobody_turns_a_real_participation_into_a_test_run(self):
        participant = self.scenario._enrol(self.partner_en.ids)
        with self.assertRaises(UserError):
            participant.with_user(self.user_manager).write({"is_test": True, "test_email": "attacker@example.com"})
        self.assertFalse(participant.is_test)
        self.run_queue()
        self.assertSentTo("john@example.com")
        self.assertFalse(self.smtp.messages_to("attacker@example.com"))

    def test_wizard_form_opens_for_a_manager(self):
        form = Form(
            self.env["email.automation.test.run"]
            .with_user(self.user_manager)
            .with_context(default_scenario_id=self.scenario.id)
        )
        self.assertEqual(form.test_email, "manager@example.com", "the current user's address by default")
