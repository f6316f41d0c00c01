"""GDPR duties done completely (issue 8, section 4) and manager actions that check access first
(section 3)."""

import base64
import json

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..providers.mailchimp import member_hash
from .test_mailchimp_sync import LIST_ID, MailchimpCommon
from .test_policy import PolicyCommon
from .test_unsubscribe_http import HttpPolicyCommon

PERSONAL = ("jan@example.pl", "Jan Kowalski", "198.51.100.4", "Firefox")


@tagged("post_install", "-at_install")
class TestExportIsForTheRequesterOnly(HttpPolicyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.grant(cls, cls.partner_pl)

    def test_export_is_streamed_to_the_manager_and_stored_nowhere(self):
        attachments_before = self.env["ir.attachment"].search_count([])
        action = self.partner_pl.with_user(self.user_manager).action_email_automation_export()
        self.assertEqual(action["type"], "ir.actions.act_url")

        self.authenticate(self.user_manager.login, self.user_manager.login)
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response.headers["Content-Disposition"])
        self.assertEqual(response.headers["Cache-Control"], "no-store")
        data = json.loads(response.content)
        self.assertEqual(data["contact"]["email"], "jan@example.pl")
        self.assertEqual(data["consent_ledger"][0]["event"], "granted")
        self.assertEqual(self.env["ir.attachment"].search_count([]), attachments_before, "no file is kept")

        # Another user who can read the contact gets nothing, even with the URL.
        for user in (self.user_user, self.user_salesman):
            self.authenticate(user.login, user.login)
            response = self.url_open(action["url"])
            self.assertEqual(response.status_code, 403, user.login)
            self.assertNotIn("jan@example.pl", response.text)


class GdprCommon(MailchimpCommon, PolicyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_pl._email_consent_record(
            "granted", "form", wording=cls.wording, ip_address="198.51.100.4", user_agent="Firefox"
        )
        cls.Member._sync_company(cls.company)
        cls.jan_member = dict(cls.mailchimp.members[LIST_ID, member_hash("jan@example.pl")])

    def setUp(self):
        super().setUp()
        # The local Mailchimp outlives each test's rollback: give it back Jan as the database has him.
        with self.mailchimp.lock:
            self.mailchimp.deleted_permanently.clear()
            self.mailchimp.members[LIST_ID, member_hash("jan@example.pl")] = dict(self.jan_member)


@tagged("post_install", "-at_install")
class TestErasureLeavesNothingBehind(GdprCommon):
    def test_audience_member_is_deleted_in_mailchimp_and_here(self):
        self.assertTrue(self.member(self.partner_pl))
        self.assertIn((LIST_ID, member_hash("jan@example.pl")), self.mailchimp.members)

        self.partner_pl.with_user(self.user_manager).action_email_automation_erase()

        (delete,) = self.mailchimp.member_deletes()
        self.assertEqual(
            (delete["method"], delete["path"]),
            ("POST", f"/3.0/lists/{LIST_ID}/members/{member_hash('jan@example.pl')}/actions/delete-permanent"),
        )
        self.assertNotIn((LIST_ID, member_hash("jan@example.pl")), self.mailchimp.members)
        self.assertFalse(self.Member.search([("partner_id", "=", self.partner_pl.id)]))
        self.assertFalse(self.Member.search([("email", "=", "jan@example.pl")]))

        # The next sync does not put the erased address back.
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(self.puts("jan@example.pl"), [])

    def test_mailchimp_unreachable_erases_nothing(self):
        self.mailchimp.script.append((503, {"title": "Service Unavailable", "detail": "Try later."}))
        with self.assertRaises(UserError):
            self.partner_pl.with_user(self.user_manager).action_email_automation_erase()
        self.assertTrue(self.member(self.partner_pl))
        self.assertEqual(self.partner_pl.email_consent_ids[0].ip_address, "198.51.100.4")

    def test_an_erased_address_stays_suppressed_for_a_new_contact_and_mailchimp(self):
        self.partner_pl.with_user(self.user_manager).action_email_automation_erase()
        newcomer = self.env["res.partner"].create({"name": "New owner", "email": "Jan@Example.pl"})
        newcomer._email_consent_record("granted", "user", reason="asked again")
        Suppression = self.env["email.automation.suppression"]
        self.assertEqual(Suppression._suppressed_emails([newcomer.email_normalized]), {"jan@example.pl"})
        self.assertFalse(Suppression.search([("email", "=", "jan@example.pl")]), "kept only as a hash")
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(self.puts("jan@example.pl"), [], "not pushed, as subscribed or otherwise")
        self.assertFalse(self.member(newcomer).status)
        traces = self.send_now(self.create_scenario(name="Order confirmation"), newcomer)
        self.assertEqual((traces.state, traces.reason), ("skipped", "suppressed"))

    def test_lead_consent_details_and_traces_found_by_address_are_erased(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Website enquiry",
                "email_from": "Jan Kowalski <jan@example.pl>",
                "email_consent_state": "granted",
                "email_consent_ip": "198.51.100.4",
                "email_consent_user_agent": "Firefox",
            }
        )
        # A scenario writing to the lead's e-mail field: its participant has no contact.
        scenario = self.create_scenario(
            "crm.lead",
            name="Enquiry answer",
            recipient_field_id=self.env["ir.model.fields"]._get("crm.lead", "email_from").id,
        )
        traces = self.send_now(scenario, lead)
        self.assertEqual(traces.state, "sent")
        self.assertFalse(traces.participant_id.partner_id)
        self.assertIn("jan@example.pl", traces.email_to)
        self.env["email.automation.event"].create(
            {
                "trace_id": traces.id,
                "event_type": "open",
                "occurred_at": "2026-06-10 10:05:00",
                "email": "jan@example.pl",
                "detail": "550 jan@example.pl: mailbox full",
                "dedupe_key": "test-erasure-1",
            }
        )
        legacy = self.env["ir.attachment"].create(
            {
                "name": f"personal-data-{self.partner_pl.id}.json",
                "datas": base64.b64encode(b'{"email": "jan@example.pl"}'),
                "res_model": "res.partner",
                "res_id": self.partner_pl.id,
            }
        )

        self.partner_pl.with_user(self.user_manager).action_email_automation_erase()
        self.env.invalidate_all()

        self.assertFalse(legacy.exists(), "earlier exports are removed")
        self.assertFalse(lead.email_consent_ip)
        self.assertFalse(lead.email_consent_user_agent)
        events = self.env["email.automation.event"].sudo().search([("trace_id", "=", traces.id)])
        for record in [*traces, *events]:
            for name, field in record._fields.items():
                if field.store and field.type in ("char", "text", "html"):
                    for personal in PERSONAL:
                        self.assertNotIn(personal, str(record[name] or ""), f"{record}.{name}")
        self.assertFalse(traces.mail_message_id)


@tagged("post_install", "-at_install")
class TestManagerActionsCheckAccessFirst(PolicyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Other Company"})
        cls.partner_b = cls.env["res.partner"].create(
            {"name": "Hidden Person", "email": "hidden@example.com", "company_id": cls.company_b.id}
        )
        cls.grant(cls, cls.partner_b)
        # The manager works for the main company only: record rules hide company B's contacts.
        cls.assertFalse(cls, cls.env["res.partner"].with_user(cls.user_manager).search([("id", "=", cls.partner_b.id)]))

    def test_erase_export_wizard_and_request_refuse_hidden_contacts(self):
        partner = self.partner_b.with_user(self.user_manager)
        with self.assertRaises(AccessError):
            partner.action_email_automation_erase()
        with self.assertRaises(AccessError):
            partner.action_email_automation_export()
        with self.assertRaises(AccessError):
            partner._email_automation_export_file()
        with self.assertRaises(AccessError):
            partner.action_email_consent_change()
        wizard = (
            self.env["email.automation.consent.wizard"]
            .with_user(self.user_manager)
            .create({"partner_ids": [Command.set(self.partner_b.ids)], "new_state": "withdrawn", "reason": "x"})
        )
        with self.assertRaises(AccessError):
            wizard.action_apply()
        self.env.invalidate_all()
        self.assertEqual(self.partner_b.email_consent_state, "granted")
        self.assertEqual(self.partner_b.email_consent_ids.mapped("event"), ["granted"])
        self.assertFalse(self.env["email.automation.suppression"].search([("email", "=", "hidden@example.com")]))

    def test_ledger_and_suppressions_of_another_company_are_hidden(self):
        Ledger = self.env["email.automation.consent"].with_user(self.user_manager)
        entry = self.partner_b.email_consent_ids
        self.assertEqual(entry.company_id, self.company_b)
        self.assertFalse(Ledger.search([("id", "=", entry.id)]))
        self.grant(self.partner_pl)
        self.assertTrue(Ledger.search([("partner_id", "=", self.partner_pl.id)]), "shared contacts stay visible")

        Suppression = self.env["email.automation.suppression"]
        row = Suppression._suppress(["hidden@example.com"], "manual")
        row.company_id = self.company_b
        self.assertFalse(Suppression.with_user(self.user_manager).search([("id", "=", row.id)]))
        with self.assertRaises(AccessError):
            row.with_user(self.user_manager).action_unsuppress()
        self.assertTrue(row.is_suppressed)

    def test_an_erased_address_cannot_be_lifted(self):
        self.partner_pl.with_user(self.user_manager).action_email_automation_erase()
        row = self.env["email.automation.suppression"].search([("reason", "=", "erased")])
        with self.assertRaises(UserError):
            row.with_user(self.user_manager).action_unsuppress()
        self.assertTrue(row.is_suppressed)
