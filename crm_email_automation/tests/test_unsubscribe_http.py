import base64
import json
import re
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import tools
from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from ..models.email_automation_mail_sender_policy import UNSUBSCRIBE_SCOPE
from ..models.res_partner import DOI_SCOPE
from .common import warm_up_http_statics
from .test_policy import PolicyCommon


def forge(token, payload):
    """Keep the token's signature and expiry, swap its payload."""
    raw = base64.urlsafe_b64decode(token.encode() + b"===")
    raw = raw[:41] + json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class HttpPolicyCommon(PolicyCommon, HttpCase):
    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it: mark this test
        # as the running one (the common base marks a plain True, for pytest-odoo).
        self.startPatcher(patch.object(odoo_module, "current_test", self))


@tagged("post_install", "-at_install")
class TestUnsubscribeHttp(HttpPolicyCommon):
    """The public unsubscribe and consent pages, through real HTTP requests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.grant(cls, cls.partner_pl | cls.partner_en)

    def setUp(self):
        super().setUp()
        # Marketing e-mail with a second step pending, and a transactional one pending.
        self.scenario = self.marketing_scenario(
            steps=[
                {"name": "Newsletter", "trigger_type": "begin"},
                {"name": "Follow-up", "trigger_type": "after_parent", "delay": 3, "delay_unit": "days"},
            ]
        )
        self.transactional = self.create_scenario(
            name="Order confirmation", steps=[{"name": "Later", "trigger_type": "begin", "delay": 2}]
        )
        self.scenario._enrol((self.partner_pl | self.partner_en).ids)
        self.transactional._enrol(self.partner_pl.ids)
        self.run_queue()
        (message,) = self.assertSentTo("jan@example.pl")
        self.url = message["List-Unsubscribe"].split(",")[0].strip(" <>")
        self.token = self.url.rsplit("/", 1)[1]
        self.path = f"/email_automation/unsubscribe/{self.token}"

    def pending(self, partner, scenario):
        return scenario.participant_ids.trace_ids.filtered(lambda t: t.partner_id == partner and t.state == "scheduled")

    def assertNothingChanged(self):
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        self.assertFalse(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        self.assertTrue(self.pending(self.partner_pl, self.scenario))

    def test_one_click_post_unsubscribes_at_once_and_cancels_pending_marketing(self):
        self.assertTrue(self.url.startswith(self.base_url()), "the link points at this server")
        response = self.url_open(
            self.path, data={"List-Unsubscribe": "One-Click"}, allow_redirects=False, headers={"User-Agent": "MUA/1.0"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.is_redirect)
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        entry = self.partner_pl.email_consent_ids[0]
        self.assertEqual((entry.event, entry.source), ("withdrawn", "email_link"))
        self.assertEqual(entry.ip_address, "127.0.0.1")
        self.assertEqual(entry.user_agent, "MUA/1.0")
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        follow_up = self.scenario.participant_ids.trace_ids.filtered(
            lambda t: t.partner_id == self.partner_pl and t.step_id.name == "Follow-up"
        )
        self.assertEqual((follow_up.state, follow_up.reason), ("cancelled", "unsubscribed"))
        self.assertTrue(self.pending(self.partner_pl, self.transactional), "transactional mail is not cancelled")
        self.assertTrue(self.pending(self.partner_en, self.scenario), "other people are not touched")

    def test_get_only_shows_a_confirmation_page(self):
        response = self.url_open(self.path, allow_redirects=False)
        self.assertEqual(response.status_code, 200)
        self.assertIn("jan@example.pl", response.text)
        self.assertIn(f'action="{self.path}"', response.text)
        self.assertIn('method="post"', response.text)
        self.env.invalidate_all()
        self.assertNothingChanged()

    def test_pages_are_in_the_recipients_language(self):
        # A Polish term for the page, whatever the translation files hold.
        self.env.ref("crm_email_automation.page_unsubscribe").update_field_translations(
            "arch_db", {"pl_PL": {"Unsubscribe": "Wypisz się"}}
        )
        polish = self.url_open(self.path)
        self.assertIn("Wypisz się", polish.text)
        john_trace = self.scenario.participant_ids.trace_ids.filtered(
            lambda t: t.partner_id == self.partner_en and t.state == "sent"
        )
        john_token = self.env["email.automation.mail.sender"]._unsubscribe_token(john_trace)
        english = self.url_open(f"/email_automation/unsubscribe/{john_token}")
        self.assertNotIn("Wypisz się", english.text)
        self.assertIn("Unsubscribe", english.text)

    def test_the_pages_form_post_unsubscribes(self):
        response = self.url_open(self.path, data={"List-Unsubscribe": "One-Click"})
        self.assertEqual(response.status_code, 200)
        self.assertIn("jan@example.pl", response.text)
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")

    def _assert_refused(self, token):
        for method in ("GET", "POST"):
            data = {"List-Unsubscribe": "One-Click"} if method == "POST" else None
            response = self.url_open(f"/email_automation/unsubscribe/{token}", data=data, allow_redirects=False)
            self.assertEqual(response.status_code, 403, f"{method} {token!r}")
            self.assertIn("o_email_automation_invalid_link", response.text, "the clear invalid-link page")
        self.env.invalidate_all()
        self.assertNothingChanged()

    def test_tampered_token_is_refused_and_changes_nothing(self):
        tampered = self.token[:-3] + ("AAA" if not self.token.endswith("AAA") else "BBB")
        self._assert_refused(tampered)
        self._assert_refused("not-a-token")
        self._assert_refused("AQ")

    def test_expired_token_is_refused(self):
        trace = self.scenario.participant_ids.trace_ids.filtered(lambda t: t.partner_id == self.partner_pl)[0]
        expired = tools.misc.hash_sign(
            self.env(su=True), UNSUBSCRIBE_SCOPE, [trace.id], expiration=datetime.now() - timedelta(minutes=1)
        )
        self._assert_refused(expired)

    def test_another_partners_token_is_refused(self):
        # John's valid token, its payload swapped for Jan's trace: the signature no longer matches.
        john_trace = self.scenario.participant_ids.trace_ids.filtered(
            lambda t: t.partner_id == self.partner_en and t.state == "sent"
        )
        jan_trace = self.scenario.participant_ids.trace_ids.filtered(
            lambda t: t.partner_id == self.partner_pl and t.state == "sent"
        )
        john_token = self.env["email.automation.mail.sender"]._unsubscribe_token(john_trace)
        self._assert_refused(forge(john_token, [jan_trace.id]))
        # A token signed for another purpose (a consent link) is no unsubscribe token either.
        self._assert_refused(tools.misc.hash_sign(self.env(su=True), DOI_SCOPE, [jan_trace.id]))


@tagged("post_install", "-at_install")
class TestDoubleOptInHttp(HttpPolicyCommon):
    def send_confirmation(self, partner):
        partner._email_consent_send_confirmation()
        self.assertEqual(partner.email_consent_state, "pending")
        mails = self.env["mail.mail"].search([("email_to", "ilike", partner.email)])
        mails.send(raise_exception=True)
        # Not an automation e-mail (no trace header): look at everything the server got.
        (message,) = [m for m in self.smtp.all_messages if partner.email in str(m["To"])]
        link = re.search(r'href="([^"]*/email_automation/consent/[^"]+)"', message.get_body(("html",)).get_content())
        self.assertTrue(link, "the confirmation e-mail carries the link")
        return message, link.group(1).replace("&amp;", "&")

    def test_double_opt_in_round_trip(self):
        self.env["email.automation.consent.wording"].search([]).date = "2000-01-01"
        self.wording.date = "2020-01-01"
        message, link = self.send_confirmation(self.partner_en)
        self.assertIn("confirm", message["Subject"].lower())
        self.assertIn("I agree to receive e-mails.", message.get_body(("html",)).get_content())
        path = link[link.index("/email_automation/") :]

        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        self.assertIn("I agree to receive e-mails.", page.text, "the page shows the wording")
        self.env.invalidate_all()
        self.assertEqual(self.partner_en.email_consent_state, "pending", "a GET (a link scanner) confirms nothing")

        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        confirmed = self.url_open(path, data={"csrf_token": csrf}, headers={"User-Agent": "Browser/2.0"})
        self.assertEqual(confirmed.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.partner_en.email_consent_state, "granted")
        self.assertEqual(self.partner_en.email_consent_wording_id, self.wording)
        entry = self.partner_en.email_consent_ids[0]
        self.assertEqual((entry.event, entry.source, entry.wording_id), ("confirmed", "email_link", self.wording))
        self.assertEqual((entry.ip_address, entry.user_agent), ("127.0.0.1", "Browser/2.0"))
        self.assertEqual(self.partner_en.email_consent_ids.mapped("event"), ["confirmed", "doi_sent"])

        again = self.url_open(path, data={"csrf_token": csrf})
        self.assertEqual(again.status_code, 403, "the link is single-use")

    def test_expired_or_forged_confirmation_link_is_refused(self):
        self.send_confirmation(self.partner_pl)
        nonce = self.partner_pl.sudo().email_consent_nonce
        expired = tools.misc.hash_sign(
            self.env(su=True), DOI_SCOPE, [self.partner_pl.id, nonce, 0], expiration=datetime.now() - timedelta(hours=1)
        )
        forged = forge(
            tools.misc.hash_sign(self.env(su=True), DOI_SCOPE, [self.partner_en.id, "x", 0], expiration_hours=1),
            [self.partner_pl.id, nonce, 0],
        )
        for token in (expired, forged, "garbage"):
            response = self.url_open(f"/email_automation/consent/{token}")
            self.assertEqual(response.status_code, 403)
            self.assertIn("o_email_automation_invalid_link", response.text, "the clear invalid-link page")
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "pending")

    def test_request_from_a_list_of_partners_and_from_a_lead(self):
        others = self.env["res.partner"].create(
            [{"name": f"Prospect {i}", "email": f"prospect{i}@example.com"} for i in range(3)]
        )
        action = self.env.ref("crm_email_automation.email_automation_consent_request_action")
        action.with_context(active_model="res.partner", active_ids=others.ids).run()
        self.assertEqual(set(others.mapped("email_consent_state")), {"pending"})
        lead = self.env["crm.lead"].create(
            {"name": "Fair contact", "contact_name": "Ola", "email_from": "ola@example.pl"}
        )
        lead.action_email_consent_request()
        self.assertEqual(lead.partner_id.email_consent_state, "pending")
        self.assertEqual(lead.partner_id.email_consent_ids.event, "doi_sent")
