import json
import logging
import urllib.parse
from datetime import timedelta
from unittest.mock import patch

import requests
from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import common as odoo_test_common
from odoo.tests import tagged

from ..providers.hosts import ALLOWED_HOSTS_PARAM
from .common import EmailAutomationCommon, body_text
from .provider_server import ProviderServer, Reply, mandrill_signature

API_KEY = "xkeysib-0123456789abcdef-SECRET"


class ProviderCommon(EmailAutomationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ProviderServer(api_key=API_KEY).start()
        cls.addClassCleanup(cls.server.stop)
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)
        # The local stand-ins are not official Brevo or Mandrill hosts: allow them.
        cls.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "127.0.0.1")
        Provider = cls.env["email.automation.provider"]
        cls.brevo = Provider.create(
            {"name": "Brevo", "kind": "brevo", "api_base_url": cls.server.brevo_url, "api_key": API_KEY, "timeout": 1}
        )
        cls.mandrill = Provider.create(
            {
                "name": "Mandrill",
                "kind": "mandrill",
                "api_base_url": cls.server.mandrill_url,
                "api_key": API_KEY,
                "timeout": 1,
            }
        )

    def setUp(self):
        super().setUp()
        self.server.clear()
        self.now = fields.Datetime.now()

    def send(self, provider, partners, when=None, **scenario_values):
        with freeze_time(when or self.now):
            scenario = self.create_scenario(provider_id=provider.id, **scenario_values)
            scenario._enrol(partners.ids)
            self.run_queue()
        return scenario.participant_ids.trace_ids.sorted("id")

    def run_at(self, when):
        with freeze_time(when):
            self.run_queue()

    def new_partners(self, count, lang="en_US"):
        return self.env["res.partner"].create(
            [{"name": f"Contact {i}", "email": f"contact{i}@example.com", "lang": lang} for i in range(count)]
        )


@tagged("post_install", "-at_install")
class TestProviderSending(ProviderCommon):
    def test_brevo_sends_the_polish_template_with_trace_headers_and_stores_its_message_id(self):
        trace = self.send(self.brevo, self.partner_pl)

        (request,) = self.server.sends("brevo")
        self.assertEqual(request.headers["api-key"], API_KEY)
        body = request.body
        self.assertEqual(body["to"], [{"email": "jan@example.pl", "name": "Jan Kowalski"}])
        self.assertEqual(body["sender"]["email"], "sales@example.com")
        self.assertEqual(body["subject"], "Witamy, Jan Kowalski")
        self.assertIn("Dzień dobry", body["htmlContent"])
        self.assertIn("Dzień dobry", body["textContent"])
        headers = body["headers"]
        self.assertEqual(headers["X-Odoo-Automation-Trace"], str(trace.id))
        self.assertEqual(headers["X-Mailin-custom"], f"trace={trace.id}")
        uuid = self.env["ir.config_parameter"].get_param("database.uuid")
        self.assertEqual(headers["idempotencyKey"], f"{uuid}-trace-{trace.id}")
        self.assertEqual(body["tags"], [trace.scenario_id.name])

        self.assertEqual(trace.state, "sent")
        self.assertEqual(trace.provider_id, self.brevo)
        self.assertEqual(trace.provider_message_id, request.message_id)
        self.assertTrue(trace.provider_message_id.endswith("@smtp-relay.mailin.fr>"))
        # Replies quote our Message-Id: it went out as a header and threads the chatter log.
        self.assertEqual(headers["Message-Id"], trace.message_id)
        self.assertEqual(trace.mail_message_id.message_id, trace.message_id)
        self.assertIn("Dzień dobry", str(trace.mail_message_id.body))
        self.assertFalse(self.smtp.messages, "nothing through SMTP")

    def test_marketing_mail_carries_one_click_unsubscribe_headers(self):
        wording = self.env["email.automation.consent.wording"].create(
            {"name": "Newsletter", "version": "t-1", "text": "<p>Yes.</p>"}
        )
        self.partner_en._email_consent_record("granted", "user", wording=wording, reason="test")
        trace = self.send(self.brevo, self.partner_en, category="marketing")
        self.assertEqual(trace.state, "sent")
        headers = self.server.sends("brevo")[0].body["headers"]
        self.assertIn("/email_automation/unsubscribe/", headers["List-Unsubscribe"])
        self.assertEqual(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")

    def test_mandrill_sends_with_the_trace_in_metadata(self):
        self.mandrill.track_clicks = False
        trace = self.send(self.mandrill, self.partner_en)
        (request,) = self.server.sends("mandrill")
        self.assertTrue(request.path.endswith("/messages/send"))
        self.assertEqual(request.body["key"], API_KEY)
        message = request.body["message"]
        self.assertEqual(message["to"], [{"email": "john@example.com", "name": "John Smith", "type": "to"}])
        self.assertEqual(message["subject"], "Welcome John Smith")
        self.assertEqual(message["from_email"], "sales@example.com")
        self.assertEqual(message["metadata"], {"trace": str(trace.id)})
        self.assertEqual(message["headers"]["X-Odoo-Automation-Trace"], str(trace.id))
        self.assertTrue(message["track_opens"])
        self.assertFalse(message["track_clicks"])
        self.assertEqual(trace.state, "sent")
        self.assertEqual(trace.provider_id, self.mandrill)
        self.assertEqual(trace.provider_message_id, request.message_id)

    def test_smtp_provider_sends_through_its_mail_server(self):
        smtp_provider = self.env["email.automation.provider"].create(
            {"name": "Relay", "kind": "smtp", "mail_server_id": self.mail_server.id}
        )
        trace = self.send(smtp_provider, self.partner_pl)
        self.assertEqual((trace.state, trace.reason, trace.reason_detail), ("sent", False, False))
        (message,) = self.assertSentTo("jan@example.pl")
        self.assertIn("Dzień dobry", body_text(message))
        self.assertEqual(trace.state, "sent")
        self.assertEqual(trace.provider_id, smtp_provider)
        self.assertFalse(self.server.requests)

    # ------------------------------------------------------------------
    # Transient errors
    # ------------------------------------------------------------------

    def test_brevo_429_waits_for_the_reset_and_puts_the_rest_of_the_batch_back(self):
        partners = self.new_partners(3)
        self.server.script(Reply.brevo_error(429, message="Too many requests", reset=3600))
        traces = self.send(self.brevo, partners)
        self.assertEqual(len(self.server.sends()), 1, "no more calls after a 429")
        first, *rest = traces.sorted(lambda t: t.email_to != self.server.sends()[0].body["to"][0]["email"])
        self.assertEqual(traces.mapped("state"), ["scheduled"] * 3)
        self.assertEqual(first.reason, "provider_transient")
        self.assertIn("429", first.reason_detail)
        self.assertEqual(first.attempt_count, 1)
        # The reset (an hour) wins over the backoff (5 minutes).
        self.assertGreaterEqual(first.scheduled_at, self.now + timedelta(seconds=3600))
        for trace in rest:
            self.assertEqual(trace.attempt_count, 0, "an untried e-mail is not charged an attempt")
            self.assertGreaterEqual(trace.scheduled_at, self.now + timedelta(seconds=3600))

        self.run_at(self.now + timedelta(minutes=30))
        self.assertEqual(len(self.server.sends()), 1, "nothing before the reset")
        self.run_at(self.now + timedelta(seconds=3700))
        self.assertEqual(traces.mapped("state"), ["sent"] * 3)
        self.assertEqual(len(self.server.accepted()), 3)
        self.assertEqual(first.attempt_count, 2)

    def test_5xx_is_retried_with_backoff_then_fails_when_attempts_run_out(self):
        self.brevo.max_attempts = 2
        self.server.script(Reply.brevo_error(500, code="internal", message="Boom"))
        trace = self.send(self.brevo, self.partner_en)
        self.assertEqual((trace.state, trace.reason, trace.attempt_count), ("scheduled", "provider_transient", 1))
        self.assertEqual(trace.scheduled_at, self.now + timedelta(minutes=5))

        self.server.script(Reply.brevo_error(502, code="bad_gateway", message="Upstream down"))
        self.run_at(self.now + timedelta(minutes=6))
        self.assertEqual((trace.state, trace.reason, trace.attempt_count), ("failed", "retries_exhausted", 2))
        self.assertIn("502", trace.reason_detail)
        self.assertIn("Upstream down", trace.reason_detail)
        self.assertEqual(len(self.server.sends()), 2)
        self.assertFalse(self.server.accepted())

    def test_a_timeout_is_transient_and_the_retry_is_not_delivered_twice(self):
        # Odoo's test harness raises every timeout under 10 s to 10 s: let ours (1 s) apply.
        self.startPatcher(patch.object(requests.Session, "send", odoo_test_common._super_send))
        # The provider takes the e-mail but answers after our timeout.
        self.server.script(Reply.slow(2.5))
        trace = self.send(self.brevo, self.partner_en)
        self.assertEqual((trace.state, trace.reason), ("scheduled", "provider_transient"))
        self.assertIn("1 seconds", trace.reason_detail)
        self.assertEqual(trace.attempt_count, 1)

        self.server.wait_for_answers()
        self.run_at(self.now + timedelta(minutes=6))
        self.assertEqual(trace.state, "sent")
        first, second = self.server.sends()
        self.assertEqual(first.body["headers"]["idempotencyKey"], second.body["headers"]["idempotencyKey"])
        self.assertEqual(len(self.server.accepted()), 1, "Brevo dropped the retry by its idempotency key")
        self.assertEqual(trace.provider_message_id, first.message_id, "the id of the e-mail delivered")

    def test_an_unreachable_provider_is_transient(self):
        self.brevo.api_base_url = "http://127.0.0.1:9/v3"  # discard port: nothing listens
        trace = self.send(self.brevo, self.partner_en)
        self.assertEqual((trace.state, trace.reason), ("scheduled", "provider_transient"))
        self.assertIn("Cannot reach", trace.reason_detail)

    # ------------------------------------------------------------------
    # Permanent errors
    # ------------------------------------------------------------------

    def test_brevo_400_402_403_fail_with_the_providers_reason(self):
        cases = [
            (400, "invalid_parameter", "email is not valid in to"),
            (402, "not_enough_credits", "Not enough credits"),
            (403, "permission_denied", "Unauthorized IP address"),
        ]
        for status, code, message in cases:
            with self.subTest(status=status):
                self.server.clear()
                self.server.script(Reply.brevo_error(status, code=code, message=message))
                trace = self.send(self.brevo, self.new_partners(1))
                self.assertEqual((trace.state, trace.reason, trace.attempt_count), ("failed", "provider_permanent", 1))
                self.assertEqual(trace.reason_detail, f"HTTP {status}: {code}: {message}")
                self.assertEqual(len(self.server.sends()), 1)
        self.assertEqual(self.brevo.state, "active")

    def test_mandrill_rejected_invalid_and_error_fail_with_the_reason(self):
        cases = [
            (Reply.mandrill_rejected("contact0@example.com", "hard-bounce"), "rejected: hard-bounce"),
            (Reply.mandrill_rejected("contact0@example.com", None, status="invalid"), "invalid"),
            (Reply.mandrill_error("PaymentRequired", "Your account has no credits"), "PaymentRequired"),
            (Reply.mandrill_error("ValidationError", "Invalid from_email"), "Invalid from_email"),
        ]
        for reply, expected in cases:
            with self.subTest(expected=expected):
                self.server.clear()
                self.server.script(reply)
                trace = self.send(self.mandrill, self.new_partners(1))
                self.assertEqual((trace.state, trace.reason), ("failed", "provider_permanent"))
                self.assertIn(expected, trace.reason_detail)
                self.assertEqual(len(self.server.sends()), 1)

    # ------------------------------------------------------------------
    # Authentication failures
    # ------------------------------------------------------------------

    def test_auth_failures_pause_the_provider_and_alert_the_managers_once(self):
        self.brevo.write({"auth_failure_limit": 2, "api_key": "wrong-key"})
        traces = self.send(self.brevo, self.new_partners(4))
        self.assertEqual(len(self.server.sends()), 1, "the rest of the batch is not sent with a refused key")
        failed = traces.filtered(lambda t: t.state == "failed")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed.reason, "provider_auth")
        self.assertIn("Key not found", failed.reason_detail)
        waiting = traces - failed
        self.assertEqual(set(waiting.mapped("state")), {"scheduled"})
        self.assertEqual(set(waiting.mapped("attempt_count")), {0})
        self.assertEqual(self.brevo.auth_failure_count, 1)
        self.assertEqual(self.brevo.state, "active")

        self.run_at(self.now + timedelta(minutes=6))
        self.assertEqual(len(self.server.sends()), 2)
        self.assertEqual(self.brevo.auth_failure_count, 2)
        self.assertEqual(self.brevo.state, "paused")
        self.assertIn("Key not found", self.brevo.pause_reason)
        self.assertNotIn("wrong-key", self.brevo.pause_reason)
        alerts = self.brevo.message_ids.filtered(lambda m: self.user_manager.partner_id in m.partner_ids)
        self.assertEqual(len(alerts), 1)

        # Paused: no call at all, the e-mails wait; still one alert.
        self.run_at(self.now + timedelta(minutes=12))
        self.run_at(self.now + timedelta(minutes=18))
        self.assertEqual(len(self.server.sends()), 2)
        waiting = traces.filtered(lambda t: t.state == "scheduled")
        self.assertEqual(len(waiting), 2)
        self.assertEqual(set(waiting.mapped("reason")), {"provider_paused"})
        self.assertEqual(set(waiting.mapped("attempt_count")), {0})
        alerts = self.brevo.message_ids.filtered(lambda m: self.user_manager.partner_id in m.partner_ids)
        self.assertEqual(len(alerts), 1)

        # Fixed and resumed: the waiting e-mails leave, each once.
        self.brevo.api_key = API_KEY
        self.brevo.action_resume()
        self.run_at(self.now + timedelta(minutes=24))
        self.assertEqual(sorted(traces.mapped("state")), ["failed", "failed", "sent", "sent"])
        self.assertEqual(len(self.server.accepted()), 2)

    def test_mandrill_invalid_key_is_an_auth_failure_and_a_success_resets_the_count(self):
        self.mandrill.api_key = "wrong-key"
        trace = self.send(self.mandrill, self.partner_en)
        self.assertEqual((trace.state, trace.reason), ("failed", "provider_auth"))
        self.assertIn("Invalid_Key", trace.reason_detail)
        self.assertEqual(self.mandrill.auth_failure_count, 1)
        self.mandrill.api_key = API_KEY
        self.send(self.mandrill, self.partner_pl)
        self.assertEqual(self.mandrill.auth_failure_count, 0)

    # ------------------------------------------------------------------
    # Staging safety
    # ------------------------------------------------------------------

    def test_a_neutralized_database_never_calls_the_provider(self):
        scenario = self.create_scenario(provider_id=self.brevo.id)
        scenario._enrol(self.partner_en.ids)
        self.env["ir.config_parameter"].set_param("database.is_neutralized", True)
        # Past the queue's own guard: the send path refuses on its own.
        traces = self.env["email.automation.trace"]._claim_due(10)
        traces._process()
        self.assertFalse(self.server.requests)
        self.assertEqual(traces.mapped("state"), ["scheduled"])
        self.assertEqual(traces.reason, "provider_paused")
        self.assertEqual(traces.attempt_count, 0)

    def test_a_paused_provider_defers_without_calling(self):
        self.brevo.action_pause()
        trace = self.send(self.brevo, self.partner_en)
        self.assertFalse(self.server.requests)
        self.assertEqual((trace.state, trace.reason, trace.attempt_count), ("scheduled", "provider_paused", 0))
        self.assertGreater(trace.scheduled_at, self.now)

    # ------------------------------------------------------------------
    # Secrets
    # ------------------------------------------------------------------

    def test_the_api_key_never_appears_in_logs_details_or_chatter(self):
        # A provider that echoes the key it refused.
        self.server.script(Reply.brevo_error(400, message=f"Invalid key {API_KEY} in request"))
        with self.assertLogs(level=logging.DEBUG) as logs:
            trace = self.send(self.brevo, self.partner_en)
            self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(trace.reason, "provider_permanent")
        self.assertIn("Invalid key *** in request", trace.reason_detail)
        self.assertTrue(logs.output)
        for line in logs.output:
            self.assertNotIn(API_KEY, line)
        self.assertNotIn(API_KEY, repr(self.brevo._get_client()))
        messages = self.env["mail.message"].search([("model", "=", "email.automation.provider")])
        for message in messages:
            self.assertNotIn(API_KEY, str(message.body))


@tagged("post_install", "-at_install")
class TestProviderConnection(ProviderCommon):
    def test_brevo_connection_test_reports_the_account(self):
        action = self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("owner@example.com", action["params"]["message"])
        (request,) = self.server.requests
        self.assertEqual((request.method, request.path), ("GET", "/v3/account"))
        self.assertTrue(self.brevo.last_test_at)
        self.assertIn("owner@example.com", self.brevo.last_test_result)

    def test_brevo_connection_failure_is_classified_without_the_key(self):
        self.brevo.api_key = "wrong-key-123"
        action = self.brevo.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        # Classified, never the provider's text: HTTP 401 and Brevo's error code.
        self.assertIn("HTTP 401 unauthorized", action["params"]["message"])
        self.assertNotIn("wrong-key-123", action["params"]["message"])
        self.assertIn("HTTP 401 unauthorized", self.brevo.last_test_result)
        self.assertEqual(self.brevo.auth_failure_count, 0, "a test is not a failed delivery")

    def test_mandrill_connection_test(self):
        action = self.mandrill.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertTrue(self.server.requests[0].path.endswith("/users/ping2"))
        self.mandrill.api_key = "wrong-key-123"
        action = self.mandrill.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("Invalid_Key", action["params"]["message"])
        self.assertNotIn("wrong-key-123", action["params"]["message"])

    def test_smtp_connection_test_uses_the_mail_server(self):
        smtp_provider = self.env["email.automation.provider"].create(
            {"name": "Relay", "kind": "smtp", "mail_server_id": self.mail_server.id}
        )
        action = smtp_provider.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.mail_server.smtp_port = 9  # nothing listens
        action = smtp_provider.with_user(self.user_manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")

    def test_only_managers_test_connections(self):
        with self.assertRaises(AccessError):
            self.brevo.with_user(self.user_user).action_test_connection()
        self.assertFalse(self.server.requests)

    def test_brevo_smtp_relay_preset(self):
        server = self.env["ir.mail_server"].create(
            {"name": "Brevo relay", "smtp_host": "localhost", "smtp_user": "me@example.com", "smtp_pass": "smtp-key"}
        )
        server.action_use_brevo_relay()
        self.assertEqual(
            (server.smtp_host, server.smtp_port, server.smtp_encryption), ("smtp-relay.brevo.com", 587, "starttls")
        )
        self.assertEqual((server.smtp_user, server.smtp_pass), ("me@example.com", "smtp-key"), "credentials kept")


@tagged("post_install", "-at_install")
class TestProviderServerWebhooks(ProviderCommon):
    """The fake providers post webhooks back as the real ones do (end-to-end tests use it)."""

    def test_mandrill_signature_matches_the_documented_test_vector(self):
        signature = mandrill_signature("test-webhook", "https://example.com/hook", {"mandrill_events": "[]"})
        self.assertEqual(signature, "q1iFfhUSFU7Unr1lnKqKA1TGkbM=")

    def test_accepted_emails_are_reported_to_the_webhook_url(self):
        receiver = ProviderServer().start()
        self.addCleanup(receiver.stop)
        self.server.post_webhooks_to(
            f"http://127.0.0.1:{receiver.port}/brevo-hook", {"Authorization": "Bearer t0ken"}, ("delivered", "click")
        )
        trace = self.send(self.brevo, self.partner_en)
        mandrill_hook = f"http://127.0.0.1:{receiver.port}/mandrill-hook"
        self.server.post_webhooks_to(mandrill_hook, signing_key="k", events=("open",))
        mandrill_trace = self.send(self.mandrill, self.partner_pl)
        self.server.wait_for_webhooks()

        delivered, click = (r for r in receiver.requests if r.path == "/brevo-hook")
        (mandrill,) = (r for r in receiver.requests if r.path == "/mandrill-hook")
        self.assertEqual((delivered.path, delivered.headers["authorization"]), ("/brevo-hook", "Bearer t0ken"))
        self.assertEqual(delivered.body["event"], "delivered")
        self.assertEqual(delivered.body["message-id"], trace.provider_message_id)
        self.assertEqual(delivered.body["X-Mailin-custom"], f"trace={trace.id}")
        self.assertEqual(click.body["link"], "https://example.com/offer")
        fields_ = dict(urllib.parse.parse_qsl(mandrill.body))
        (event,) = json.loads(fields_["mandrill_events"])
        self.assertEqual(event["event"], "open")
        self.assertEqual(event["msg"]["_id"], mandrill_trace.provider_message_id)
        self.assertEqual(event["msg"]["metadata"], {"trace": str(mandrill_trace.id)})
        self.assertEqual(
            mandrill.headers["x-mandrill-signature"],
            mandrill_signature("k", mandrill_hook, fields_),
        )
