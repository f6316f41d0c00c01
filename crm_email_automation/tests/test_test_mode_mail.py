import contextlib
from urllib.parse import quote

from odoo.tests import tagged

from .common import body_text
from .test_unsubscribe_http import HttpPolicyCommon
from .webhook_common import WebhookCommon

QA_ADDRESS = "qa-team@example.com"


@tagged("post_install", "-at_install")
class TestTestModeMail(HttpPolicyCommon):
    """A test e-mail goes to the test address with no working unsubscribe for the real
    contact and without the contact's address, through a real SMTP server and real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.grant(cls, cls.partner_pl)
        # A template that prints the contact's address in every place it can.
        cls.template_revealing = cls.env["mail.template"].create(
            {
                "name": "Revealing",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "subject": "Hello {{ object.name }} <{{ object.email }}>",
                "body_html": "<p>We write to <t t-out='object.email'/> "
                "(<a t-attf-href='mailto:{{ object.email }}'>write</a>, "
                "<a t-attf-href='https://example.org/profile?email={{ object.email }}'>profile</a>, "
                "<t t-out='object.email_formatted'/>).</p>",
                "email_from": "{{ object.env.company.email_formatted }}",
            }
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.marketing_scenario(
            is_test_mode=True,
            test_email=QA_ADDRESS,
            steps=[
                {"name": "Newsletter", "trigger_type": "begin", "mail_template_id": self.template_revealing.id},
                {"name": "Later", "trigger_type": "after_parent", "delay": 3, "delay_unit": "days"},
            ],
        )
        self.send_now(self.scenario, self.partner_pl)
        (self.message,) = self.assertSentTo(QA_ADDRESS)

    def assertContactUntouched(self):
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        self.assertFalse(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        later = self.scenario.participant_ids.trace_ids.filtered(lambda t: t.step_id.name == "Later")
        self.assertEqual(later.state, "scheduled", "the real contact's next step is still pending")

    def test_no_real_address_reaches_the_test_inbox(self):
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        self.assertEqual(self.message["To"], QA_ADDRESS)
        self.assertTrue(self.message["Subject"].startswith("[TEST] Hello Jan Kowalski"))
        html = self.message.get_body(preferencelist=("html",)).get_content()
        plain = self.message.get_body(preferencelist=("plain",)).get_content()
        headers = "\n".join(f"{name}: {value}" for name, value in self.message.items())
        for text in (headers, html, plain):
            self.assertNotIn("jan@example.pl", text.lower())
            self.assertNotIn(quote("jan@example.pl", safe=""), text)
        self.assertIn(QA_ADDRESS, html, "the placeholders show the test address instead")
        trace = self.scenario.participant_ids.trace_ids.filtered(lambda t: t.state == "sent")
        self.assertTrue(trace.is_test)
        self.assertEqual(trace.email_to, QA_ADDRESS)

    def unsubscribe_path(self):
        header = self.message["List-Unsubscribe"]
        url = header.split(",")[0].strip(" <>")
        self.assertIn(url, body_text(self.message), "the footer link is the header's")
        return "/email_automation/unsubscribe/" + url.rsplit("/", 1)[1]

    def test_one_click_post_of_a_test_mail_unsubscribes_nobody(self):
        path = self.unsubscribe_path()
        response = self.url_open(path, data={"List-Unsubscribe": "One-Click"}, allow_redirects=False)
        self.assertGreaterEqual(response.status_code, 400)
        self.assertNotIn("jan@example.pl", response.text)
        self.assertContactUntouched()
        # The confirmation page shows no address either.
        page = self.url_open(path, allow_redirects=False)
        self.assertNotIn("jan@example.pl", page.text)
        self.assertContactUntouched()

    def test_mailto_unsubscribe_of_a_test_mail_unsubscribes_nobody(self):
        mailto = self.message["List-Unsubscribe"].split(",")[-1].strip(" <>")
        if not mailto.startswith("mailto:"):
            return
        address, query = mailto.removeprefix("mailto:").split("?subject=")
        raw = (
            f"From: QA <{QA_ADDRESS}>\nTo: {address}\nSubject: {query.replace('%20', ' ')}\n"
            "Message-Id: <qa-unsubscribe@example.com>\n\n\n"
        )
        with contextlib.suppress(ValueError):  # no route: the gateway may refuse the message
            self.env["mail.thread"].message_process(False, raw.encode())
        self.assertContactUntouched()

    def test_the_real_mail_still_unsubscribes(self):
        """The same scenario out of test mode: the link works, so the test above proves
        the test mode, not a broken link."""
        # Test mode changes only without participants in progress (Jan's next step would
        # otherwise reach the real Jan): stop, back to draft, then out of test mode.
        self.scenario.action_stop()
        self.scenario.action_reset_to_draft()
        self.scenario.write({"is_test_mode": False})
        self.scenario.action_start()
        self.grant(self.partner_en)
        self.send_now(self.scenario, self.partner_en)
        (message,) = self.assertSentTo("john@example.com")
        url = message["List-Unsubscribe"].split(",")[0].strip(" <>")
        response = self.url_open(
            "/email_automation/unsubscribe/" + url.rsplit("/", 1)[1],
            data={"List-Unsubscribe": "One-Click"},
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(self.partner_en.email_consent_state, "withdrawn")
        self.assertEqual(self.partner_pl.email_consent_state, "granted")


@tagged("post_install", "-at_install")
class TestTestModeWebhook(WebhookCommon):
    """A provider reporting that the reader of a test e-mail unsubscribed (its own link,
    a complaint button) speaks for the test address, not for the real contact."""

    def test_provider_unsubscribe_of_a_test_mail_unsubscribes_nobody(self):
        trace = self.sent_trace(self.partner_pl, self.brevo, "<test-mode.1@smtp-relay.mailin.fr>")
        trace.write({"is_test": True, "email_to": QA_ADDRESS})
        response = self.post_brevo(self.brevo_event("unsubscribed", trace))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(trace.event_ids.mapped("event_type"), ["unsubscribe"], "the event is recorded")
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        self.assertFalse(self.env["mail.blacklist"].search([("email", "in", ["jan@example.pl", QA_ADDRESS])]))
