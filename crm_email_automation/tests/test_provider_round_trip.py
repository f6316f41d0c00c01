from unittest.mock import patch

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from .common import warm_up_http_statics
from .test_provider_sending import ProviderCommon
from .webhook_common import IntakeCase

WEBHOOK_TOKEN = "round-trip-token-4d1f"
MANDRILL_KEY = "round-trip-mandrill-key"


@tagged("post_install", "-at_install")
class TestProviderRoundTrip(IntakeCase, ProviderCommon, HttpCase):
    """What a manager sees: e-mails sent through the provider's API, then the provider's
    own webhooks, posted to Odoo's HTTP server, report what happened to each of them (once
    the intake is recorded, as its cron job does after each request's commit)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.brevo.webhook_token = WEBHOOK_TOKEN
        cls.mandrill.webhook_key = MANDRILL_KEY

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))

    def test_brevo_delivery_open_click_and_bounce_arrive(self):
        partners = self.new_partners(2, lang="pl_PL")
        traces = self.send(self.brevo, partners)
        self.assertEqual(traces.mapped("state"), ["sent", "sent"])
        self.assertEqual(len(self.server.accepted("brevo")), 2)
        self.assertIn("Dzień dobry", self.server.accepted("brevo")[0].body["htmlContent"])

        url = f"{self.base_url()}/email_automation/webhook/brevo/{self.brevo.id}"
        answers = self.server.report(
            url, ("delivered", "opened", "click"), headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        )
        self.assertEqual(answers, [(200, {"status": "ok", "received": 1})] * 6)
        counts = self.record_intake()
        self.assertEqual((counts["received"], counts["recorded"]), (6, 6))
        for trace in traces:
            self.assertTrue(trace.delivered_at and trace.opened_at and trace.clicked_at)
            self.assertEqual((trace.open_count, trace.click_count), (1, 1))
            self.assertEqual(
                sorted(trace.event_ids.mapped("event_type")), ["click", "delivered", "open"], trace.email_to
            )
        scenario = traces.scenario_id
        self.assertEqual((scenario.delivered_ratio, scenario.opened_ratio, scenario.clicked_ratio), (100, 100, 100))

        # A later hard bounce suppresses the address: the next e-mail to it is not sent.
        self.server.clear()
        bounced = self.send(self.brevo, partners[0])
        answers = self.server.report(url, ("hard_bounce",), headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        self.assertEqual(answers, [(200, {"status": "ok", "received": 1})])
        self.assertEqual(self.record_intake()["recorded"], 1)
        self.assertTrue(bounced.bounced_at)
        self.server.clear()
        after = self.send(self.brevo, partners[0])
        self.assertEqual((after.state, after.reason), ("skipped", "suppressed"))
        self.assertFalse(self.server.sends())

    def test_mandrill_signed_events_arrive(self):
        partner = self.new_partners(1)
        trace = self.send(self.mandrill, partner)
        self.assertEqual(trace.state, "sent")
        url = f"{self.base_url()}/email_automation/webhook/mandrill/{self.mandrill.id}"
        # Mandrill signs the URL it was given; behind a proxy that is not ours, so it is stored.
        self.mandrill.webhook_url = url
        answers = self.server.report(url, ("send", "open", "click"), signing_key=MANDRILL_KEY)
        self.assertEqual(answers, [(200, {"status": "ok", "received": 3})])
        self.assertEqual(self.record_intake()["recorded"], 3)
        self.assertTrue(trace.opened_at and trace.clicked_at)
        self.assertEqual(sorted(trace.event_ids.mapped("event_type")), ["click", "open", "sent"])

        # Events signed with another key are refused, and change nothing.
        answers = self.server.report(url, ("spam",), signing_key="not-the-key")
        self.assertEqual(answers, [(403, {"error": "invalid signature"})])
        self.assertEqual(self.record_intake()["received"], 0, "nothing was queued")
        self.assertNotIn("spam", trace.event_ids.mapped("event_type"))
