"""Several workers and crashes, with real transactions: these tests commit, then clean up."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.tests import get_db_name, tagged
from odoo.tools import config

from .common import CommittedDataCase, real_smtp_patch

WORKER_SCRIPT = """
import sys
import odoo
from odoo.modules.registry import Registry
odoo.tools.config.parse_config(["-d", sys.argv[1], "--addons-path", sys.argv[2], "--log-level", "warn"])
with Registry(sys.argv[1]).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    env["email.automation.queue"]._process_due_traces(batch_size=int(sys.argv[3]), auto_commit=True)
"""


@tagged("post_install", "-at_install")
class TestConcurrentQueue(CommittedDataCase):
    """Traces committed in the database, processed by independent cursors or processes."""

    PARTNERS = 40

    def setUp(self):
        super().setUp()
        self.smtp.clear()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.commit_greeting(env, "Worker", self.PARTNERS)
        self.addCleanup(self.delete_data)

    def delete_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.delete_greeting(env)
            env["ir.mail_server"].browse(self.server_id).unlink()

    def trace_states(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            traces = env["email.automation.trace"].search([("scenario_id", "=", self.scenario_id)])
            return Counter(traces.mapped("state"))

    def assertEachTraceSentOnce(self):
        per_trace = Counter(m["X-Odoo-Automation-Trace"] for m in self.smtp.messages)
        self.assertEqual(len(per_trace), self.PARTNERS, "every trace reached the SMTP server")
        self.assertEqual(set(per_trace.values()), {1}, f"some traces were sent twice: {per_trace}")
        self.assertEqual(self.trace_states(), Counter(sent=self.PARTNERS))

    def run_two_workers(self):
        """Process the queue in two threads, each with its own cursor, started together;
        return the errors they raised."""
        barrier = threading.Barrier(2)
        errors = []

        def worker():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    env["email.automation.queue"]._process_due_traces(batch_size=5, auto_commit=True)
            except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
                errors.append(error)

        with real_smtp_patch():
            threads = [threading.Thread(target=worker) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        return errors

    def test_two_workers_never_send_a_trace_twice(self):
        self.assertFalse(self.run_two_workers())
        self.assertEachTraceSentOnce()

    def test_two_workers_together_respect_the_rate_limit(self):
        now = datetime.now()
        if now.minute == 59 and now.second > 30:
            time.sleep(61 - now.second)  # both workers in the same hour window
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ir.config_parameter"].set_param("crm_email_automation.rate_limit_hour", 15)

        def reset():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["ir.config_parameter"].set_param("crm_email_automation.rate_limit_hour", 0)
                scenario = env["email.automation.scenario"].browse(self.scenario_id)
                channel = env["email.automation.policy"]._rate_limit_channel(scenario)
                cr.execute("DELETE FROM email_automation_rate_counter WHERE channel = %s", [channel])

        self.addCleanup(reset)
        self.assertFalse(self.run_two_workers())
        self.assertEqual(len(self.smtp.messages), 15, "the two workers together sent no more than the limit")
        self.assertEqual(self.trace_states(), Counter(sent=15, scheduled=self.PARTNERS - 15))
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            deferred = env["email.automation.trace"].search(
                [("scenario_id", "=", self.scenario_id), ("state", "=", "scheduled")]
            )
            self.assertEqual(set(deferred.mapped("reason")), {"rate_limit"})
            self.assertEqual(set(deferred.mapped("attempt_count")), {0}, "a deferral is not an attempt")

    def test_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(self):
        killed_after = 7
        worker = None

        def kill_on_next_message(message):
            # The worker dies while the server holds an e-mail it has not accepted yet.
            if len(self.smtp.messages) == killed_after:
                os.kill(worker.pid, signal.SIGKILL)
                return "421 4.3.2 Worker gone"
            return None

        self.smtp.handler.reply = kill_on_next_message
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, get_db_name(), config["addons_path"], "20"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker.wait(timeout=180)
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        self.assertEqual(len(self.smtp.messages), killed_after)
        states = self.trace_states()
        self.assertEqual(states["sent"], killed_after, "every accepted e-mail was committed as sent")
        self.assertEqual(states["processing"], 20 - killed_after, "the rest of the claimed batch is stuck")

        self.smtp.handler.reply = None
        with self.registry.cursor() as cr, real_smtp_patch():
            # An hour later, the claims of the dead worker are stale.
            cr.execute(
                "UPDATE email_automation_trace SET claimed_at = claimed_at - interval '1 hour' WHERE scenario_id = %s",
                [self.scenario_id],
            )
            env = api.Environment(cr, SUPERUSER_ID, {})
            recovered = env["email.automation.trace"]._recover_stale_claims(timedelta(minutes=30))
            self.assertEqual(len(recovered), 20 - killed_after)
            env["email.automation.queue"]._process_due_traces(batch_size=20, auto_commit=True)
        self.assertEachTraceSentOnce()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            logged = env["mail.message"].search_count(
                [
                    ("model", "=", "res.partner"),
                    ("res_id", "in", self.partner_ids),
                    ("message_type", "=", "email_outgoing"),
                ]
            )
        self.assertEqual(logged, self.PARTNERS, "every sent e-mail is logged once in the chatter")
