from lxml import etree

from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestLeadConsentChange(EmailAutomationCommon):
    """The lead's consent tab has the contact's Change Consent action, the same labels, and
    the Request button is not offered where the server refuses it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wording = cls.env["email.automation.consent.wording"].create(
            {"name": "Lead consent", "version": "lead-test-1", "text": "<p>I agree to receive e-mails.</p>"}
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Consent lead",
                "email_from": "jan@example.pl",
                "partner_id": cls.partner_pl.id,
                "user_id": cls.user_manager.id,
            }
        )
        cls.lead_without_contact = cls.env["crm.lead"].create(
            {"name": "Anonymous lead", "email_from": "someone@example.com", "user_id": cls.user_manager.id}
        )

    def change(self, leads, state, user=None, reason="Said yes on the phone on 3 March"):
        user = user or self.user_manager
        action = leads.with_user(user).action_email_consent_change()
        self.assertEqual(action["res_model"], "email.automation.consent.wizard")
        wizard_form = Form(self.env[action["res_model"]].with_user(user).with_context(**action["context"]))
        wizard_form.new_state = state
        wizard_form.reason = reason
        if state == "granted":
            wizard_form.wording_id = self.wording
        return wizard_form.save().action_apply()

    def button_invisible(self, view, name):
        return [
            node.get("invisible") for node in etree.fromstring(view["arch"]).iter("button") if node.get("name") == name
        ]

    def test_manager_grants_consent_from_the_lead_with_a_ledger_entry_for_its_contact(self):
        self.change(self.lead, "granted")
        self.assertEqual(self.lead.email_consent_state, "granted")
        self.assertEqual(self.lead.email_consent_source, "user")
        self.assertEqual(self.lead.email_consent_wording_id, self.wording)
        self.assertEqual(self.lead.email_consent_user_id, self.user_manager)
        self.assertTrue(self.lead.email_consent_date)
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        entry = self.partner_pl.email_consent_ids
        self.assertEqual(len(entry), 1)
        self.assertEqual(
            (entry.event, entry.source, entry.wording_id, entry.user_id, entry.reason),
            ("granted", "user", self.wording, self.user_manager, "Said yes on the phone on 3 March"),
        )
        self.assertEqual(self.lead.email_consent_partner_state, "granted")

    def test_withdrawal_from_the_lead_and_a_lead_without_contact(self):
        self.change(self.lead | self.lead_without_contact, "withdrawn")
        self.assertEqual((self.lead | self.lead_without_contact).mapped("email_consent_state"), ["refused"] * 2)
        self.assertFalse(self.lead.email_consent_wording_id)
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        self.assertEqual(self.partner_pl.email_consent_ids.event, "withdrawn")

    def test_ordinary_users_cannot_change_a_leads_consent(self):
        with self.assertRaises(AccessError):
            self.lead.with_user(self.user_user).action_email_consent_change()
        Wizard = self.env["email.automation.consent.wizard"]
        with self.assertRaises(AccessError):
            Wizard.with_user(self.user_user).create(
                {"lead_ids": [(6, 0, self.lead.ids)], "new_state": "granted", "reason": "attack"}
            ).action_apply()
        # A wizard made by someone else does not lend its rights either.
        wizard = Wizard.create({"lead_ids": [(6, 0, self.lead.ids)], "new_state": "granted", "reason": "attack"})
        with self.assertRaises(AccessError):
            wizard.with_user(self.user_user).action_apply()
        self.assertEqual(self.lead.email_consent_state, "unknown")
        self.assertEqual(self.partner_pl.email_consent_state, "unknown")

    def test_lead_tab_has_change_consent_and_read_only_fields(self):
        Lead = self.env["crm.lead"]
        manager_view = Lead.with_user(self.user_manager).get_view(view_type="form")
        self.assertEqual(self.button_invisible(manager_view, "action_email_consent_change"), [None])
        arch = etree.fromstring(manager_view["arch"])
        state = arch.xpath("//page[@name='email_consent']//field[@name='email_consent_state']")[0]
        self.assertEqual(state.get("readonly"), "1", "changed with Change Consent only, as on the contact")
        user_view = Lead.with_user(self.user_user).get_view(view_type="form")
        self.assertEqual(self.button_invisible(user_view, "action_email_consent_change"), [])

    def test_labels_agree_and_dates_are_not_labelled_utc(self):
        for model in ("crm.lead", "res.partner"):
            self.assertEqual(
                self.env[model].fields_get(["email_consent_date"])["email_consent_date"]["string"], "Consent Changed On"
            )
        ledger_date = self.env["email.automation.consent"].fields_get(["date"])["date"]["string"]
        self.assertNotIn("UTC", ledger_date, "the web client shows datetimes in the user's time zone")

    def test_request_button_hidden_from_ordinary_users_on_withdrawn_contacts(self):
        for model in ("res.partner", "crm.lead"):
            with self.subTest(model=model):
                Model = self.env[model]
                (user_invisible,) = self.button_invisible(
                    Model.with_user(self.user_user).get_view(view_type="form"), "action_email_consent_request"
                )
                self.assertIn("withdrawn", user_invisible)
                (manager_invisible,) = self.button_invisible(
                    Model.with_user(self.user_manager).get_view(view_type="form"), "action_email_consent_request"
                )
                self.assertNotIn("withdrawn", manager_invisible)
        # What the hidden button would do is refused by the server.
        self.partner_pl._email_consent_record("withdrawn", "user", reason="test")
        with self.assertRaises(AccessError):
            self.partner_pl.with_user(self.user_user).action_email_consent_request()
