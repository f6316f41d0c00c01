from datetime import timedelta

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestDocumentSmartButton(EmailAutomationCommon):
    """Orders, leads and contacts show their scenarios; salespeople remove them with a reason."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        steps = [
            {"name": "Thank-you e-mail", "trigger_type": "begin", "delay": 1, "delay_unit": "days"},
            {"name": "Review request", "trigger_type": "begin", "delay": 7, "delay_unit": "days"},
        ]
        cls.order_scenario = cls.create_scenario(cls, "sale.order", steps=steps, name="Order follow-up")
        cls.lead_scenario = cls.create_scenario(cls, "crm.lead", name="Lead nurture")
        cls.partner_scenario = cls.create_scenario(cls, "res.partner", name="Welcome")
        # An order of the E-mail Automation user, and one of another salesperson (which the
        # user may neither read nor modify: "own documents only").
        cls.own_order = cls.create_order(cls, cls.partner_en, user_id=cls.user_user.id)
        cls.other_order = cls.create_order(cls, cls.partner_en, user_id=cls.user_salesman.id)
        cls.lead = cls.env["crm.lead"].create(
            {"name": "Website enquiry", "partner_id": cls.partner_en.id, "user_id": cls.user_user.id}
        )
        # Delays count from enrolment: nothing is due during the test.
        cls.own_participant = cls.order_scenario._enrol([cls.own_order.id])
        cls.other_participant = cls.order_scenario._enrol([cls.other_order.id])
        cls.lead_participant = cls.lead_scenario._enrol([cls.lead.id])
        cls.partner_participant = cls.partner_scenario._enrol([cls.partner_en.id])
        for trace in cls.partner_participant.trace_ids | cls.lead_participant.trace_ids:
            trace.scheduled_at += timedelta(days=1)

    def remove(self, participants, user, reason="The customer asked by phone to stop the reminders"):
        wizard = (
            self.env["email.automation.remove.wizard"]
            .with_user(user)
            .create({"participant_ids": [(6, 0, participants.ids)], "reason": reason})
        )
        return wizard.action_apply()

    # ------------------------------------------------------------------
    # The smart button
    # ------------------------------------------------------------------

    def test_order_shows_its_participation_and_next_step(self):
        order = self.own_order.with_user(self.user_user)
        self.assertEqual(order.email_automation_participant_count, 1)
        action = order.action_view_email_automation_participants()
        self.assertEqual(action["res_model"], "email.automation.participant")
        participants = self.env["email.automation.participant"].with_user(self.user_user).search(action["domain"])
        self.assertEqual(participants, self.own_participant)
        thank_you = self.order_scenario.step_ids.filtered(lambda s: s.name == "Thank-you e-mail")
        self.assertEqual(participants.next_step_id, thank_you, "The earliest scheduled step comes next.")
        self.assertEqual(participants.next_step_at, self.own_participant.enrolled_at + timedelta(days=1))

    def test_lead_shows_its_participation(self):
        lead = self.lead.with_user(self.user_user)
        self.assertEqual(lead.email_automation_participant_count, 1)
        domain = lead.action_view_email_automation_participants()["domain"]
        self.assertEqual(self.env["email.automation.participant"].search(domain), self.lead_participant)

    def test_contact_shows_its_own_and_its_documents_participations_it_may_read(self):
        everything = self.partner_participant | self.own_participant | self.other_participant | self.lead_participant
        self.assertEqual(self.partner_en.email_automation_participant_count, 4)
        partner = self.partner_en.with_user(self.user_user)
        # The other salesperson's order is not readable by this user: neither counted nor listed.
        self.assertEqual(partner.email_automation_participant_count, 3)
        domain = partner.action_view_email_automation_participants()["domain"]
        listed = self.env["email.automation.participant"].with_user(self.user_user).search(domain)
        self.assertEqual(listed, everything - self.other_participant)

    def test_nothing_shown_for_a_record_outside_scenarios(self):
        order = self.create_order(self.partner_pl, user_id=self.user_user.id).with_user(self.user_user)
        self.assertEqual(order.email_automation_participant_count, 0)
        domain = order.action_view_email_automation_participants()["domain"]
        self.assertFalse(self.env["email.automation.participant"].search(domain))

    def test_button_only_for_email_automation_users(self):
        button = "action_view_email_automation_participants"
        for model in ("sale.order", "crm.lead", "res.partner"):
            with self.subTest(model=model):
                arch_user = self.env[model].with_user(self.user_user).get_views([(False, "form")])["views"]["form"]
                self.assertIn(button, arch_user["arch"])
                arch_salesman = (
                    self.env[model].with_user(self.user_salesman).get_views([(False, "form")])["views"]["form"]
                )
                self.assertNotIn(button, arch_salesman["arch"])
                self.assertNotIn("email_automation_participant_count", arch_salesman["arch"])

    # ------------------------------------------------------------------
    # Removing a document from its scenario
    # ------------------------------------------------------------------

    def test_user_removes_own_order_with_a_reason(self):
        self.remove(self.own_participant, self.user_user)
        participant = self.own_participant
        self.assertEqual(participant.state, "cancelled")
        self.assertEqual(participant.exit_reason, "manual")
        self.assertEqual(participant.exit_note, "The customer asked by phone to stop the reminders")
        self.assertEqual(participant.removed_by_id, self.user_user)
        self.assertTrue(participant.ended_at)
        self.assertEqual(set(participant.trace_ids.mapped("state")), {"cancelled"})
        self.assertFalse(participant.next_step_id)
        note = self.own_order.message_ids.filtered(lambda m: "stop the reminders" in (m.body or ""))
        self.assertEqual(len(note), 1, "The removal and its reason are in the order's chatter.")
        self.assertIn("Order follow-up", note.body)
        self.assertEqual(note.author_id, self.user_user.partner_id)
        self.run_queue()
        self.assertFalse(self.smtp.messages, "Nothing is sent after the removal.")
        self.assertEqual(self.own_order.with_user(self.user_user).email_automation_participant_count, 1)

    def test_reason_is_required(self):
        with self.assertRaises(UserError):
            self.remove(self.own_participant, self.user_user, reason="   ")
        self.assertEqual(self.own_participant.state, "running")
        self.assertEqual(set(self.own_participant.trace_ids.mapped("state")), {"scheduled"})

    def test_user_cannot_remove_a_document_they_cannot_modify(self):
        with self.assertRaises(AccessError):
            self.remove(self.other_participant, self.user_user)
        # Nor by the older door: participants are read-only to E-mail Automation users.
        with self.assertRaises(AccessError):
            self.other_participant.with_user(self.user_user).action_cancel()
        # Nor by mixing it with one they may remove.
        with self.assertRaises(AccessError):
            self.remove(self.own_participant | self.other_participant, self.user_user)
        for participant in self.own_participant | self.other_participant:
            self.assertEqual(participant.state, "running")
            self.assertFalse(participant.exit_note)
            self.assertEqual(set(participant.trace_ids.mapped("state")), {"scheduled"})

    def test_manager_removes_any_document(self):
        self.remove(self.other_participant, self.user_manager, reason="Duplicate order")
        self.assertEqual(self.other_participant.state, "cancelled")
        self.assertEqual(self.other_participant.exit_note, "Duplicate order")

    def test_plain_salesperson_is_refused(self):
        salesman = self.user_salesman
        with self.assertRaises(AccessError):
            self.remove(self.other_participant, salesman)
        with self.assertRaises(AccessError):
            self.other_order.with_user(salesman).action_view_email_automation_participants()
        with self.assertRaises(AccessError):
            self.other_participant.with_user(salesman).action_remove_from_scenario()
        with self.assertRaises(AccessError):
            self.other_participant.with_user(salesman)._check_can_remove()
        self.assertEqual(self.other_participant.state, "running")

    def test_finished_participation_cannot_be_removed(self):
        self.remove(self.own_participant, self.user_user)
        with self.assertRaises(UserError):
            self.remove(self.own_participant, self.user_user, reason="Again")
        self.assertEqual(self.own_participant.exit_note, "The customer asked by phone to stop the reminders")
