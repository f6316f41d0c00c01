"""Webhook events reach only the recipient they are about (issue 8, section 5): an event of
a message sent to several addresses is filed by address or dropped, and the Mailchimp
audience webhook only touches members of that audience."""

from unittest.mock import patch

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged

from . import test_mailchimp_webhook
from .common import warm_up_http_statics
from .test_mailchimp_sync import MailchimpCommon
from .webhook_common import WebhookCommon

MESSAGE_ID = "<shared-202611200900@smtp-relay.mailin.fr>"


@tagged("post_install", "-at_install")
class TestEventRecipient(WebhookCommon):
    def setUp(self):
        super().setUp()
        # One provider message for two recipients, the second's address inside the first's.
        self.partner_jan = self.env["res.partner"].create({"name": "Jan", "email": "jan.an@example.pl"})
        self.partner_an = self.env["res.partner"].create({"name": "An", "email": "an@example.pl"})
        self.grant(self.partner_jan | self.partner_an)
        self.trace_jan = self.sent_trace(self.partner_jan, self.brevo, MESSAGE_ID)
        self.trace_an = self.sent_trace(self.partner_an, self.brevo, MESSAGE_ID)
        self.trace_an.email_to = '"An" <AN@example.pl>'

    def events_of(self, trace):
        return self.env["email.automation.event"].search([("trace_id", "=", trace.id)])

    def test_each_recipients_event_is_filed_under_its_trace(self):
        no_ref = {"X-Mailin-custom": ""}
        response = self.post_brevo(
            [
                self.brevo_event("hard_bounce", self.trace_an, email="an@example.pl", **no_ref),
                self.brevo_event("opened", self.trace_jan, email="Jan.An@example.pl", **no_ref),
                # The same event at the same second for both: two events, not a duplicate.
                self.brevo_event("delivered", self.trace_an, email="an@example.pl", **no_ref),
                self.brevo_event("delivered", self.trace_jan, email="jan.an@example.pl", **no_ref),
            ]
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "ok", "received": 4})
        self.assertEqual(self.recorded["recorded"], 4)
        self.assertEqual(set(self.events_of(self.trace_an).mapped("event_type")), {"hard_bounce", "delivered"})
        self.assertEqual(set(self.events_of(self.trace_jan).mapped("event_type")), {"open", "delivered"})
        self.assertFalse(self.trace_jan.bounced_at, "the bounce is An's, not Jan's")
        self.assertTrue(self.suppression("an@example.pl").is_suppressed)
        self.assertFalse(self.suppression("jan.an@example.pl").is_suppressed)

    def test_an_event_naming_no_recipient_of_the_message_is_dropped(self):
        before = self.snapshot()
        events = [
            self.brevo_event("unsubscribed", self.trace_jan, email="stranger@example.org"),
            self.brevo_event("spam", self.trace_jan, email=None),
        ]
        for event in events:
            # The trace reference names Jan's trace, but the message has two recipients.
            event["X-Mailin-custom"] = ""
        response = self.post_brevo(events)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual((self.recorded["recorded"], self.recorded["unknown"]), (0, 2))
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.partner_jan.email_consent_state, "granted")

    def test_a_mandrill_copy_to_another_recipient_is_not_filed_under_the_trace(self):
        # Mandrill gives each recipient of a message its own id but the same metadata: the
        # trace id alone would file another recipient's bounce under this e-mail.
        other = self.mandrill_event("hard_bounce", self.trace_md, msg={"_id": "copy-for-cc", "email": "cc@example.org"})
        same = self.mandrill_event("open", self.trace_md, msg={"_id": "copy-for-john", "email": "John@Example.com"})
        before = self.snapshot()
        response = self.post_mandrill([other])
        self.assertEqual((response.status_code, self.recorded["unknown"]), (200, 1))
        self.assertEqual(self.snapshot(), before)
        self.assertFalse(self.trace_md.bounced_at)
        self.post_mandrill([same])
        self.assertEqual(self.recorded["recorded"], 1)
        self.assertEqual(self.events_of(self.trace_md).event_type, "open")

    def test_an_event_for_another_address_than_the_single_recipient_is_dropped(self):
        before = self.snapshot()
        response = self.post_brevo(self.brevo_event("spam", self.trace_pl, email="someone.else@example.org"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual((self.recorded["recorded"], self.recorded["unknown"]), (0, 1))
        self.assertEqual(self.snapshot(), before)


@tagged("post_install", "-at_install")
class TestMailchimpWebhookMembers(MailchimpCommon, HttpCase):
    """The audience webhook, for addresses that were never pushed to that audience."""

    # The request helpers of the Mailchimp webhook tests (imported as a module: a test
    # class imported here would run here too).
    event = test_mailchimp_webhook.TestMailchimpWebhook.event
    post = test_mailchimp_webhook.TestMailchimpWebhook.post

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.grant(cls, cls.partner_pl | cls.partner_en)
        cls.Member._sync_company(cls.company)
        cls.path = f"/email_automation/webhook/mailchimp/{cls.company.email_automation_mailchimp_webhook_secret}"

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))

    def test_an_address_outside_the_audience_is_not_touched(self):
        outsider = self.env["res.partner"].create({"name": "Outsider", "email": "outsider@example.com"})
        self.grant(outsider)
        self.assertFalse(self.member(outsider), "granted after the last sync: not a member yet")
        ledger = len(outsider.email_consent_ids)
        for event_type in ("unsubscribe", "cleaned"):
            response = self.post(self.event(event_type, email="outsider@example.com"))
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.json()["status"], "ignored")
        self.env.invalidate_all()
        self.assertEqual(outsider.email_consent_state, "granted")
        self.assertEqual(len(outsider.email_consent_ids), ledger)
        self.assertFalse(self.env["mail.blacklist"].search([("email", "=", "outsider@example.com")]))
        self.assertFalse(self.suppression_of("outsider@example.com"))
        # A member of the audience is still unsubscribed.
        response = self.post(self.event("unsubscribe", email="jan@example.pl"))
        self.assertEqual(response.json(), {"status": "ok", "contacts": 1})

    def suppression_of(self, email):
        Suppression = self.env["email.automation.suppression"]
        return Suppression.search([("email_hash", "=", Suppression._hash(email)), ("is_suppressed", "=", True)])
