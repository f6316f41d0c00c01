import json
from unittest.mock import patch

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from .common import warm_up_http_statics
from .mailchimp_server import capture_logs
from .test_mailchimp_sync import LIST_ID, MailchimpCommon


@tagged("post_install", "-at_install")
class TestMailchimpWebhook(MailchimpCommon, HttpCase):
    """Mailchimp's audience webhook through real HTTP requests to Odoo."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.grant(cls, cls.partner_pl | cls.partner_en)
        cls.Member._sync_company(cls.company)
        cls.secret = cls.company.email_automation_mailchimp_webhook_secret
        cls.path = f"/email_automation/webhook/mailchimp/{cls.secret}"

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))

    def event(self, event_type="unsubscribe", email="jan@example.pl", **extra):
        """A form body as Mailchimp posts it."""
        return {
            "type": event_type,
            "fired_at": "2026-11-30 10:00:00",
            "data[action]": "unsub",
            "data[reason]": "manual",
            "data[id]": "8a25ff1d98",
            "data[list_id]": LIST_ID,
            "data[email]": email,
            "data[email_type]": "html",
            "data[merges][EMAIL]": email,
            "data[merges][FNAME]": "Jan",
            "data[ip_opt]": "10.20.10.30",
            "data[campaign_id]": "cb398d21d2",
            **extra,
        }

    def post(self, data, path=None, **kwargs):
        return self.url_open(path or self.path, data=data, allow_redirects=False, **kwargs)

    def state(self):
        """Everything a webhook could write."""
        self.env.invalidate_all()
        return {
            "consent": (self.partner_pl | self.partner_en).mapped("email_consent_state"),
            "ledger": self.env["email.automation.consent"].search_count([]),
            "suppressed": self.env["email.automation.suppression"].search_count([]),
            "blacklist": self.env["mail.blacklist"].search_count([]),
            "members": self.Member.search([]).mapped(lambda m: (m.email, m.status, m.error)),
        }

    def test_get_answers_mailchimps_url_check(self):
        response = self.url_open(self.path)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_unsubscribe_withdraws_consent_with_a_webhook_ledger_entry(self):
        response = self.post(self.event())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok", "contacts": 1})
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        self.assertEqual(self.partner_en.email_consent_state, "granted", "other contacts are not touched")
        entry = self.partner_pl.email_consent_ids[0]
        self.assertEqual((entry.event, entry.source), ("withdrawn", "webhook"))
        self.assertIn("unsubscribe", entry.reason)
        self.assertIn("manual", entry.reason)
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        # Mailchimp already knows: the sync does not push the contact back.
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(self.puts(), [])

    def test_cleaned_suppresses_the_address_and_withdraws_consent(self):
        response = self.post(self.event("cleaned", email="JAN@example.pl", **{"data[reason]": "hard"}))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        self.assertEqual(self.partner_pl.email_consent_ids[0].source, "webhook")
        suppression = self.env["email.automation.suppression"].search([("email", "=", "jan@example.pl")])
        self.assertEqual((suppression.is_suppressed, suppression.reason), (True, "hard_bounce"))
        self.mailchimp.clear()
        self.sync()
        self.assertEqual(self.puts(), [], "cleaned in Mailchimp already")

    def test_a_replayed_event_changes_nothing_twice(self):
        self.post(self.event())
        before = self.state()
        response = self.post(self.event())
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.state(), before)

    def test_other_types_are_acknowledged_and_ignored(self):
        before = self.state()
        for event_type in ("subscribe", "profile", "upemail", "campaign"):
            response = self.post(self.event(event_type))
            self.assertEqual(response.status_code, 200, event_type)
            self.assertEqual(response.json()["status"], "ignored")
        self.assertEqual(self.state(), before)

    def test_an_unknown_address_is_acknowledged_and_ignored(self):
        before = self.state()
        response = self.post(self.event("cleaned", email="stranger@example.org"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ignored")
        self.assertEqual(self.state(), before)

    def test_a_wrong_secret_is_refused_and_writes_nothing(self):
        before = self.state()
        other = self.env["res.company"].create({"name": "Other", "email_automation_mailchimp_enabled": True})
        for path in (
            "/email_automation/webhook/mailchimp/not-the-secret",
            f"/email_automation/webhook/mailchimp/{self.secret[:-1]}",
            f"/email_automation/webhook/mailchimp/{self.secret}x",
        ):
            self.assertEqual(self.post(self.event(), path=path).status_code, 403, path)
            self.assertEqual(self.url_open(path).status_code, 403, path)
        # Another company's secret does not reach this company's audience.
        other_path = f"/email_automation/webhook/mailchimp/{other.email_automation_mailchimp_webhook_secret}"
        response = self.post(self.event(), path=other_path)
        self.assertEqual((response.status_code, response.json()), (400, {"error": "unknown data[list_id]"}))
        self.assertEqual(self.state(), before)

    def test_bad_input_gets_a_4xx_reason_and_writes_nothing(self):
        before = self.state()
        event = self.event()
        cases = [
            ("missing type", {k: v for k, v in event.items() if k != "type"}, {}, 400),
            ("unknown type", {**event, "type": "explode"}, {}, 400),
            ("missing address", {k: v for k, v in event.items() if k != "data[email]"}, {}, 400),
            ("invalid address", {**event, "data[email]": "not an address"}, {}, 400),
            ("wrong audience", {**event, "data[list_id]": "0000000000"}, {}, 400),
            ("repeated type", [*event.items(), ("type", "cleaned")], {}, 400),
            ("JSON body", json.dumps(event), {"Content-Type": "application/json"}, 415),
            ("oversized body", {**event, "data[merges][NOTE]": "x" * 70_000}, {}, 413),
        ]
        for label, data, headers, status in cases:
            response = self.post(data, headers=headers)
            self.assertEqual(response.status_code, status, label)
            self.assertIn("error", response.json(), label)
        for method in ("PUT", "DELETE", "PATCH"):
            response = self.opener.request(method, self.base_url() + self.path, data=event, timeout=12)
            self.assertEqual(response.status_code, 405, method)
            self.assertEqual(response.json(), {"error": "method not allowed"})
        self.assertEqual(self.state(), before)

    def test_the_secret_stays_out_of_the_logs(self):
        with capture_logs() as logs:
            self.post(self.event())
            self.url_open(self.path)
            self.post(self.event(), path=self.path + "x")
        # urllib3 logs the test's own requests: Mailchimp's side, not Odoo's.
        odoo_side = "\n".join(r.getMessage() for r in logs.records if not r.name.startswith("urllib3"))
        self.assertIn("/email_automation/webhook/mailchimp/***", odoo_side, "the access log is captured")
        self.assertNotIn(self.secret, odoo_side)
