"""A paused provider sends nothing, and a pause made while a batch is being sent (by a
manager, or by another queue lane, in a transaction of its own) stops that batch at the
next e-mail: nothing is sent twice, nothing is lost. With real commits, a real SMTP server
and a local stand-in for Brevo's API; these tests commit, then clean up."""

import contextlib
from collections import Counter
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import tagged

from ..providers.hosts import ALLOWED_HOSTS_PARAM
from .common import CommittedDataCase, real_smtp_patch
from .provider_server import ProviderServer

API_KEY = "xkeysib-pause-test-SECRET"
PAUSE_REASON = "Paused by the sales manager: the domain is being moved."
# What the sender promises: a paused provider's e-mails are looked at again in 5 minutes.
PAUSED_RETRY = timedelta(minutes=5)


class ProviderPauseCase(CommittedDataCase):
    """A running transactional scenario whose provider is set on it, with PARTNERS e-mails
    due now; the queue runs as the cron does (committing after each e-mail)."""

    PARTNERS = 8

    def provider_values(self):
        raise NotImplementedError

    @contextlib.contextmanager
    def committed_env(self):
        """An environment on a cursor of its own, committed at the end, as another user's
        request or another worker. The managers' notification of a pause is queued for
        the mail cron rather than sent at commit (from inside a test server's handler)."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"mail_notify_force_send": False})

    def setUp(self):
        super().setUp()
        self.smtp.clear()
        self.addCleanup(self.smtp.clear)
        with self.committed_env() as env:
            self.commit_greeting(
                env,
                "Pause",
                self.PARTNERS,
                template_values={"email_from": "sales@example.com"},
                provider_values=self.provider_values,
            )
        self.addCleanup(self.delete_data)

    def delete_data(self):
        with self.committed_env() as env:
            self.delete_greeting(env)
            # The pause's alert, its activities and notifications, then the provider's chatter.
            env["email.automation.alert"].search([("provider_id", "=", self.provider_id)]).unlink()
            env["email.automation.provider"].browse(self.provider_id).unlink()
            env["ir.mail_server"].browse(self.server_id).unlink()

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def run_queue(self):
        """One run of the queue, as the cron runs it."""
        with real_smtp_patch(), self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["email.automation.queue"]._process_due_traces(batch_size=20, auto_commit=True)

    def pause_now(self, env):
        env["email.automation.provider"].browse(self.provider_id).write(
            {"state": "paused", "pause_reason": PAUSE_REASON}
        )

    def resume_and_come_back_later(self):
        """A manager resumes the provider; five minutes later the deferred e-mails are due."""
        with self.committed_env() as env:
            env["email.automation.provider"].browse(self.provider_id).action_resume()
            env.cr.execute(
                "UPDATE email_automation_trace SET scheduled_at = scheduled_at - interval '5 minutes'"
                " WHERE scenario_id = %s AND state = 'scheduled'",
                [self.scenario_id],
            )

    def traces(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            traces = env["email.automation.trace"].search([("scenario_id", "=", self.scenario_id)], order="id")
            return traces.read(["state", "reason", "reason_detail", "scheduled_at", "attempt_count", "message_id"])

    def assertDeferredForPause(self, traces, before, after, detail=None):
        """`traces` wait in the queue again for the paused provider, about 5 minutes after
        the run, without losing an attempt."""
        self.assertTrue(traces)
        for trace in traces:
            self.assertEqual((trace["state"], trace["reason"]), ("scheduled", "provider_paused"))
            self.assertEqual(trace["attempt_count"], 0, "a deferral is not an attempt")
            self.assertGreaterEqual(trace["scheduled_at"], before + PAUSED_RETRY - timedelta(seconds=1))
            self.assertLessEqual(trace["scheduled_at"], after + PAUSED_RETRY + timedelta(seconds=1))
            if detail is not None:
                self.assertEqual(trace["reason_detail"], detail)


@tagged("post_install", "-at_install")
class TestSmtpProviderPause(ProviderPauseCase):
    def provider_values(self):
        return {"name": "Pause test SMTP provider", "kind": "smtp", "mail_server_id": self.server_id}

    def assertEachTraceSentOnce(self):
        """Every trace reached the SMTP server exactly once, under one Message-ID each."""
        messages = self.smtp.messages
        per_trace = Counter(m["X-Odoo-Automation-Trace"] for m in messages)
        per_message_id = Counter(m["Message-Id"] for m in messages)
        self.assertEqual(len(messages), self.PARTNERS, f"e-mails per trace: {per_trace}")
        self.assertEqual(len(per_trace), self.PARTNERS, "every trace reached the SMTP server")
        self.assertEqual(len(per_message_id), self.PARTNERS, "no Message-ID reached the server twice")
        traces = self.traces()
        self.assertEqual(Counter(t["state"] for t in traces), Counter(sent=self.PARTNERS))
        self.assertEqual({str(t["id"]) for t in traces}, set(per_trace))
        self.assertEqual({t["message_id"] for t in traces}, set(per_message_id))

    def test_paused_smtp_provider_sends_nothing_until_resumed(self):
        with self.committed_env() as env:
            env["email.automation.provider"].browse(self.provider_id).action_pause()
            pause_reason = env["email.automation.provider"].browse(self.provider_id).pause_reason

        before = fields.Datetime.now()
        self.run_queue()
        after = fields.Datetime.now()

        self.assertEqual(self.smtp.messages, [], "a paused provider sends nothing")
        traces = self.traces()
        self.assertEqual(len(traces), self.PARTNERS)
        self.assertDeferredForPause(traces, before, after, detail=pause_reason)

        self.resume_and_come_back_later()
        self.run_queue()
        self.assertEachTraceSentOnce()

    def test_pause_committed_during_a_batch_stops_it_at_the_next_email(self):
        paused_at, errors = [], []

        def pause_on_third_message(message):
            # The third e-mail is arriving: a manager (or another lane) pauses the provider
            # in a transaction of its own, committed before the server accepts this one.
            if not paused_at and len(self.smtp.messages) == 2:
                try:
                    with self.committed_env() as env:
                        self.pause_now(env)
                    paused_at.append(message["X-Odoo-Automation-Trace"])
                except Exception as error:  # noqa: BLE001 - reported by the assertion below
                    errors.append(error)
            return None

        self.smtp.handler.reply = pause_on_third_message
        before = fields.Datetime.now()
        self.run_queue()
        after = fields.Datetime.now()
        self.smtp.handler.reply = None

        self.assertFalse(errors)
        self.assertEqual(len(paused_at), 1, "the provider was paused during the batch")
        sent_ids = [m["X-Odoo-Automation-Trace"] for m in self.smtp.messages]
        self.assertEqual(len(sent_ids), 3, "the batch stopped at the e-mail after the pause")
        self.assertEqual(sent_ids[-1], paused_at[0], "the e-mail in flight during the pause went out")
        traces = self.traces()
        self.assertEqual(Counter(t["state"] for t in traces), Counter(sent=3, scheduled=self.PARTNERS - 3))
        self.assertEqual({str(t["id"]) for t in traces if t["state"] == "sent"}, set(sent_ids))
        self.assertDeferredForPause([t for t in traces if t["state"] != "sent"], before, after, PAUSE_REASON)

        # Still paused: nothing more leaves, even once the deferred e-mails are due again.
        with self.committed_env() as env:
            env.cr.execute(
                "UPDATE email_automation_trace SET scheduled_at = scheduled_at - interval '5 minutes'"
                " WHERE scenario_id = %s AND state = 'scheduled'",
                [self.scenario_id],
            )
        self.run_queue()
        self.assertEqual(len(self.smtp.messages), 3)

        self.resume_and_come_back_later()
        self.run_queue()
        self.assertEachTraceSentOnce()


@tagged("post_install", "-at_install")
class TestApiProviderPause(ProviderPauseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api = ProviderServer(api_key=API_KEY).start()
        cls.addClassCleanup(cls.api.stop)

    def provider_values(self):
        return {
            "name": "Pause test Brevo",
            "kind": "brevo",
            "api_base_url": self.api.brevo_url,
            "api_key": API_KEY,
            "timeout": 5,
        }

    def setUp(self):
        # The local stand-in is not an official Brevo host: allow it while the test runs.
        with self.committed_env() as env:
            params = env["ir.config_parameter"]
            allowed = params.get_param(ALLOWED_HOSTS_PARAM)
            params.set_param(ALLOWED_HOSTS_PARAM, "127.0.0.1")
        self.addCleanup(self.restore_param, allowed)
        self.api.clear()
        self.addCleanup(self.api.clear)
        super().setUp()

    def restore_param(self, value):
        with self.committed_env() as env:
            env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, value)

    def test_pause_committed_during_an_api_batch_stops_it_at_the_next_email(self):
        errors = []

        def pause_on_third_request(request):
            # The third e-mail reaches Brevo: the provider is paused meanwhile, committed
            # before Brevo answers.
            if len(self.api.sends("brevo")) == 3:
                try:
                    with self.committed_env() as env:
                        self.pause_now(env)
                except Exception as error:  # noqa: BLE001 - reported by the assertion below
                    errors.append(error)

        self.api.on_send = pause_on_third_request
        before = fields.Datetime.now()
        self.run_queue()
        after = fields.Datetime.now()
        self.api.on_send = None

        self.assertFalse(errors)
        requests = self.api.sends("brevo")
        self.assertEqual(len(requests), 3, "the batch stopped at the e-mail after the pause")
        self.assertEqual(len(self.api.accepted("brevo")), 3)
        sent_ids = {r.body["headers"]["X-Odoo-Automation-Trace"] for r in requests}
        traces = self.traces()
        self.assertEqual(Counter(t["state"] for t in traces), Counter(sent=3, scheduled=self.PARTNERS - 3))
        self.assertEqual({str(t["id"]) for t in traces if t["state"] == "sent"}, sent_ids)
        self.assertDeferredForPause([t for t in traces if t["state"] != "sent"], before, after, PAUSE_REASON)

        self.resume_and_come_back_later()
        self.run_queue()
        requests = self.api.sends("brevo")
        per_trace = Counter(r.body["headers"]["X-Odoo-Automation-Trace"] for r in requests)
        self.assertEqual(len(requests), self.PARTNERS, f"requests per trace: {per_trace}")
        self.assertEqual(len(per_trace), self.PARTNERS, "every trace reached Brevo, none twice")
        self.assertEqual(len({r.body["headers"]["idempotencyKey"] for r in requests}), self.PARTNERS)
        self.assertEqual(len(self.api.accepted("brevo")), self.PARTNERS)
        traces = self.traces()
        self.assertEqual(Counter(t["state"] for t in traces), Counter(sent=self.PARTNERS))
        self.assertEqual({str(t["id"]) for t in traces}, set(per_trace))
        self.assertFalse(self.smtp.messages, "nothing through SMTP")
