"""Consent changes only with proof (issue 8, section 2): each attack as it arrives."""

import re
import xmlrpc.client

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import warm_up_http_statics
from .test_policy import PolicyCommon
from .test_unsubscribe_http import HttpPolicyCommon


class ConsentProofCommon(PolicyCommon):
    def ledger(self, partner):
        return self.env["email.automation.consent"].search([("partner_id", "=", partner.id)])


@tagged("post_install", "-at_install")
class TestConsentFieldsOnlyThroughTheLedger(ConsentProofCommon):
    def test_manager_plain_write_is_refused_and_changes_nothing(self):
        for vals in (
            {"email_consent_state": "granted"},
            {"email_consent_source": "form"},
            {"email_consent_date": "2026-01-01 00:00:00"},
            {"email_consent_wording_id": self.wording.id},
        ):
            with self.assertRaises(AccessError, msg=str(vals)):
                self.partner_pl.with_user(self.user_manager).write(vals)
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "unknown")
        self.assertFalse(self.partner_pl.email_consent_wording_id)
        self.assertFalse(self.ledger(self.partner_pl))

    def test_writing_the_values_a_form_read_is_no_change(self):
        self.partner_pl.with_user(self.user_manager).write({"email_consent_state": "unknown", "phone": "+48 1"})
        self.assertEqual(self.partner_pl.phone, "+48 1")

    def test_even_superuser_code_cannot_write_consent_around_the_ledger(self):
        with self.assertRaises(AccessError):
            self.partner_pl.sudo().write({"email_consent_state": "granted"})
        self.assertEqual(self.partner_pl.email_consent_state, "unknown")

    def test_context_default_cannot_create_a_consented_contact(self):
        for user in (self.user_user, self.user_salesman):
            Partner = self.env["res.partner"].with_user(user).with_context(default_email_consent_state="granted")
            with self.assertRaises(AccessError, msg=user.login):
                Partner.create({"name": "Forged", "email": f"forged-{user.id}@example.com"})
            with self.assertRaises(AccessError, msg=user.login):
                self.env["res.partner"].with_user(user).create(
                    {"name": "Forged", "email": "forged@example.com", "email_consent_state": "granted"}
                )
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Forged")]))

    def test_manager_create_with_consent_is_recorded_in_the_ledger(self):
        Partner = self.env["res.partner"].with_user(self.user_manager)
        created = Partner.create({"name": "Opted in", "email": "optin@example.com", "email_consent_state": "granted"})
        by_default = Partner.with_context(default_email_consent_state="granted").create(
            {"name": "Opted in too", "email": "optin2@example.com"}
        )
        for partner in created | by_default:
            self.assertEqual(partner.email_consent_state, "granted")
            entry = self.ledger(partner)
            self.assertEqual((entry.event, entry.source, entry.user_id), ("imported", "api", self.user_manager))
            self.assertTrue(entry.reason)
        # Date, source and a pending double opt-in are the ledger's to set, never given.
        for vals in ({"email_consent_state": "pending"}, {"email_consent_source": "form"}):
            with self.assertRaises(AccessError):
                Partner.create({"name": "Odd", **vals})

    def test_wizard_still_changes_consent_with_its_reason(self):
        wizard = (
            self.env["email.automation.consent.wizard"]
            .with_user(self.user_manager)
            .create({"partner_ids": [Command.set(self.partner_pl.ids)], "new_state": "granted", "reason": "Paper form"})
        )
        wizard.action_apply()
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        self.assertEqual(self.ledger(self.partner_pl).reason, "Paper form")

    def test_deleting_a_contact_keeps_its_ledger_entries(self):
        partner = self.env["res.partner"].create({"name": "Ewa Leaving", "email": "ewa@example.pl"})
        self.grant(partner)
        entry = self.ledger(partner)
        partner_hash = entry.email_hash
        partner.unlink()
        self.assertTrue(entry.exists())
        self.assertFalse(entry.partner_id)
        self.assertEqual((entry.partner_name, entry.email, entry.event), ("Ewa Leaving", "ewa@example.pl", "granted"))
        self.assertEqual(partner_hash, self.env["email.automation.suppression"]._hash("ewa@example.pl"))

    def test_merging_contacts_keeps_the_kept_ones_consent_and_every_entry(self):
        duplicate = self.env["res.partner"].create({"name": "Jan Kowalski", "email": "jan.k@example.pl"})
        self.grant(duplicate)
        entry = self.ledger(duplicate)
        self.env["base.partner.merge.automatic.wizard"]._merge((self.partner_pl | duplicate).ids, self.partner_pl)
        self.assertFalse(duplicate.exists())
        self.assertEqual(self.partner_pl.email_consent_state, "unknown", "not copied without a ledger entry")
        self.assertEqual(entry.partner_id, self.partner_pl, "the entry moved to the kept contact")


@tagged("post_install", "-at_install")
class TestLeadConsent(ConsentProofCommon):
    def lead_values(self, **values):
        return {"name": "Fair enquiry", "contact_name": "Anna Nowak", "email_from": "anna@example.pl", **values}

    def test_plain_users_cannot_record_a_consent_on_a_lead(self):
        Lead = self.env["crm.lead"].with_user(self.user_salesman)
        for vals in (
            {"email_consent_state": "granted"},
            {"email_consent_ip": "203.0.113.7"},
            {"email_consent_user_agent": "Forged"},
        ):
            with self.assertRaises(AccessError, msg=str(vals)):
                Lead.create(self.lead_values(**vals))
        with self.assertRaises(AccessError):
            Lead.with_context(default_email_consent_state="granted").create(self.lead_values())
        lead = Lead.with_context(default_email_consent_user_id=self.user_manager.id).create(
            self.lead_values(email_consent_user_id=self.user_manager.id)
        )
        self.assertFalse(lead.email_consent_user_id, "the author is never given")
        with self.assertRaises(AccessError):
            lead.write({"email_consent_state": "granted"})
        lead.write({"email_consent_user_id": self.user_manager.id})
        self.assertFalse(lead.email_consent_user_id)
        self.assertEqual(lead.email_consent_state, "unknown")

    def test_conversion_names_who_recorded_the_consent_not_who_converts(self):
        lead = (
            self.env["crm.lead"]
            .with_user(self.user_manager)
            .create(self.lead_values(email_consent_wording_id=self.wording.id, user_id=False))
        )
        lead.write({"email_consent_state": "granted", "email_consent_ip": "203.0.113.7"})
        self.assertEqual(lead.email_consent_user_id, self.user_manager)
        lead.with_user(self.user_salesman)._handle_partner_assignment(create_missing=True)
        entry = self.ledger(lead.partner_id)
        self.assertEqual((entry.event, entry.user_id, entry.ip_address), ("granted", self.user_manager, "203.0.113.7"))
        self.assertIn(self.user_salesman.name, entry.reason, "the converting user is named as such")

    def test_web_form_consent_is_attributed_to_the_form(self):
        # The public form path: website forms create leads as the superuser.
        lead = self.env["crm.lead"].sudo().create(self.lead_values(email_consent_state="granted", user_id=False))
        self.assertFalse(lead.email_consent_user_id)
        lead.with_user(self.user_manager)._handle_partner_assignment(create_missing=True)
        entry = self.ledger(lead.partner_id)
        self.assertEqual((entry.source, entry.user_id), ("form", self.env["res.users"]))


@tagged("post_install", "-at_install")
class TestWordingVersions(ConsentProofCommon):
    def test_a_cited_wording_cannot_change_and_a_new_version_is_made(self):
        Wording = self.env["email.automation.consent.wording"].with_user(self.user_manager)
        wording = Wording.browse(self.wording.id)
        wording.write({"text": "<p>Draft text, not yet cited.</p>"})
        self.grant(self.partner_pl)
        self.assertTrue(wording.is_cited)
        for vals in ({"text": "<p>I agree to everything.</p>"}, {"version": "test-1b"}):
            with self.assertRaises(UserError, msg=str(vals)):
                wording.write(vals)
        with self.assertRaises(UserError):
            wording.update_field_translations("text", {"pl_PL": "<p>Zgadzam się na wszystko.</p>"})
        self.env.invalidate_all()
        self.assertIn("Draft text, not yet cited.", wording.text)

        action = wording.action_new_version()
        new = Wording.browse(action["res_id"])
        self.assertNotEqual(new, wording)
        self.assertNotEqual(new.version, wording.version)
        self.assertIn("Draft text, not yet cited.", new.text)
        self.assertFalse(new.is_cited)
        new.write({"text": "<p>New text.</p>"})
        self.assertEqual(self.env["email.automation.consent.wording"]._get_current(), new)
        self.assertNotEqual(new.id, Wording.browse(wording.id).action_new_version()["res_id"], "versions stay unique")


@tagged("post_install", "-at_install")
class TestDoubleOptInRules(ConsentProofCommon):
    def test_plain_users_cannot_ask_a_contact_who_withdrew(self):
        self.partner_pl._email_consent_record("withdrawn", "email_link")
        before = len(self.ledger(self.partner_pl))
        with self.assertRaises(AccessError):
            self.partner_pl.with_user(self.user_user).action_email_consent_request()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        self.assertEqual(len(self.ledger(self.partner_pl)), before)
        self.partner_pl.with_user(self.user_manager).action_email_consent_request()
        self.assertEqual(self.partner_pl.email_consent_state, "pending")

    def test_pending_is_never_mailable_under_opt_out_either(self):
        self.config.set_param("crm_email_automation.consent_policy", "opt_out")
        self.partner_pl._email_consent_send_confirmation()
        self.assertEqual(self.partner_pl.email_consent_state, "pending")
        self.smtp.clear()
        traces = self.send_now(self.marketing_scenario(), self.partner_en | self.partner_pl)
        self.assertSentTo("john@example.com", 1)
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        pending = traces.filtered(lambda t: t.partner_id == self.partner_pl)
        self.assertEqual((pending.state, pending.reason), ("skipped", "no_consent"))


@tagged("post_install", "-at_install")
class TestConsentOverRpc(HttpPolicyCommon):
    """The attacks as they arrive: XML-RPC calls of a manager and of a plain internal user."""

    def execute(self, user, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(self.env.cr.dbname, user.id, user.login, model, method, list(args), kwargs)

    def test_manager_rpc_write_of_consent_is_refused(self):
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.execute(
                self.user_manager, "res.partner", "write", [self.partner_pl.id], {"email_consent_state": "granted"}
            )
        self.assertIn("consent ledger", caught.exception.faultString)
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "unknown")
        self.assertFalse(self.partner_pl.email_consent_ids)

    def test_user_rpc_create_with_context_default_is_refused(self):
        with self.assertRaises(xmlrpc.client.Fault):
            self.execute(
                self.user_user,
                "res.partner",
                "create",
                [{"name": "Forged over RPC", "email": "rpc@example.com"}],
                context={"default_email_consent_state": "granted"},
            )
        with self.assertRaises(xmlrpc.client.Fault):
            self.execute(
                self.user_salesman,
                "crm.lead",
                "create",
                [{"name": "Forged lead", "email_from": "rpc@example.com", "email_consent_state": "granted"}],
            )
        self.assertFalse(self.env["res.partner"].search([("email", "=", "rpc@example.com")]))
        self.assertFalse(self.env["crm.lead"].search([("email_from", "=", "rpc@example.com")]))


@tagged("post_install", "-at_install")
class TestDoubleOptInAddressBinding(HttpPolicyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()

    def confirmation_path(self, partner):
        partner._email_consent_send_confirmation()
        self.env["mail.mail"].search([("email_to", "ilike", partner.email)]).send(raise_exception=True)
        (message,) = [m for m in self.smtp.all_messages if partner.email in str(m["To"])]
        link = re.search(r'href="[^"]*(/email_automation/consent/[^"]+)"', message.get_body(("html",)).get_content())
        return link.group(1).replace("&amp;", "&")

    def test_a_changed_address_invalidates_the_link(self):
        path = self.confirmation_path(self.partner_en)
        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

        self.partner_en.email = "someone.else@example.com"
        self.env.flush_all()
        for response in (self.url_open(path), self.url_open(path, data={"csrf_token": csrf})):
            self.assertEqual(response.status_code, 409)
            self.assertIn("o_email_automation_address_changed", response.text, "a page that says why")
        self.env.invalidate_all()
        self.assertEqual(self.partner_en.email_consent_state, "pending")
        self.assertEqual(self.partner_en.email_consent_ids.mapped("event"), ["doi_sent"])

        # Back to the address it was sent to: the link works again (the nonce was kept).
        self.partner_en.email = "john@example.com"
        self.env.flush_all()
        confirmed = self.url_open(path, data={"csrf_token": csrf})
        self.assertEqual(confirmed.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.partner_en.email_consent_state, "granted")
