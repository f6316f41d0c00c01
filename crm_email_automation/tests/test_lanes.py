"""The queue in several lanes: the setting, the wake-up, and lanes on real, separate
cursors (these tests commit, then clean up)."""

import signal
import subprocess
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ValidationError
from odoo.tests import get_db_name, tagged
from odoo.tools import config

from .common import CommittedDataCase, EmailAutomationCommon, real_smtp_patch

PREFIX = "crm_email_automation."

CLAIM_AND_DIE = """
import os, signal, sys
import odoo
from odoo.modules.registry import Registry
odoo.tools.config.parse_config(["-d", sys.argv[1], "--addons-path", sys.argv[2], "--log-level", "warn"])
with Registry(sys.argv[1]).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    claimed = env["email.automation.trace"]._claim_due(5)
    cr.commit()
    print(len(claimed), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@tagged("post_install", "-at_install")
class TestLaneSetting(EmailAutomationCommon):
    def lanes(self):
        return self.env["email.automation.queue"]._lane_crons()

    def save_lanes(self, count):
        self.env["res.config.settings"].create({"email_automation_queue_lanes": count}).execute()

    def test_the_lane_setting_creates_and_archives_lane_crons(self):
        first = self.env.ref("crm_email_automation.ir_cron_process_queue")
        self.save_lanes(3)
        lanes = self.lanes()
        self.assertEqual(len(lanes), 3)
        self.assertEqual(lanes[0], first, "lane 1 is the module's scheduled action")
        self.assertEqual(set(lanes.mapped("code")), {"model._cron_process_queue()"}, "every lane runs the same code")
        self.assertEqual(lanes[2].name, f"{first.name} (lane 3)")
        self.save_lanes(2)
        self.assertEqual(self.lanes(), lanes[:2])
        self.assertFalse(lanes[2].active, "a lane above the setting is archived, not deleted")
        self.save_lanes(3)
        self.assertEqual(self.lanes(), lanes, "raising the setting again reuses the archived lane")
        self.assertEqual(self.env["ir.config_parameter"].get_param(PREFIX + "queue_lanes"), "3")

    def test_a_lane_count_out_of_range_is_refused(self):
        for count in (0, 17):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.save_lanes(count)
        self.assertEqual(len(self.lanes()), 1)

    def test_an_enrolment_wakes_every_lane_once(self):
        self.save_lanes(2)
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search([])
        self.create_scenario(trigger="on_create")
        self.env["res.partner"].with_user(self.user_manager).create(
            [{"name": f"Lane contact {n}", "email": f"lane{n}@example.org"} for n in range(3)]
        )
        woken = Trigger.search([]) - before
        self.assertEqual(Counter(woken.cron_id.ids), Counter({cron.id: 1 for cron in self.lanes()}))


@tagged("post_install", "-at_install")
class TestLanesOnRealCursors(CommittedDataCase):
    """Two lanes, each its own thread and cursor, started together."""

    PARTNERS = 30

    def setUp(self):
        super().setUp()
        self.smtp.clear()
        with self.env_cursor() as env:
            self.server_id = (
                env["ir.mail_server"]
                .create({"name": "Lanes SMTP", "smtp_host": "127.0.0.1", "smtp_port": self.smtp.port, "sequence": 0})
                .id
            )
            self.partner_ids = (
                env["res.partner"]
                .create([{"name": f"Lane test {i}", "email": f"lane{i}@example.com"} for i in range(self.PARTNERS)])
                .ids
            )
            self.template_id = (
                env["mail.template"]
                .create(
                    {
                        "name": "Lanes template",
                        "model_id": env["ir.model"]._get_id("res.partner"),
                        "subject": "Hello {{ object.name }}",
                        "body_html": "<p>Hello <t t-out='object.name'/></p>",
                    }
                )
                .id
            )
            self.old_consent_policy = env["ir.config_parameter"].get_param(PREFIX + "consent_policy")
            # Marketing e-mail to contacts without a recorded refusal.
            env["ir.config_parameter"].set_param(PREFIX + "consent_policy", "opt_out")
        self.scenario_ids = []
        self.addCleanup(self.delete_data)

    @contextmanager
    def env_cursor(self):
        """A superuser environment on a cursor of its own, committed on exit."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})

    def create_scenario(self, name, category="transactional", **values):
        with self.env_cursor() as env:
            scenario = env["email.automation.scenario"].create(
                {
                    "name": name,
                    "model_id": env["ir.model"]._get_id("res.partner"),
                    "trigger": "manual",
                    "category": category,
                    "mail_server_id": self.server_id,
                    "step_ids": [
                        (0, 0, {"name": "Hello", "action_type": "mail", "mail_template_id": self.template_id})
                    ],
                    **values,
                }
            )
            scenario.action_start()
            self.scenario_ids.append(scenario.id)
            return scenario.id

    def enrol(self, scenario_id, partner_ids):
        with self.env_cursor() as env:
            env["email.automation.scenario"].browse(scenario_id)._enrol(partner_ids)

    def delete_data(self):
        with self.env_cursor() as env:
            env["ir.config_parameter"].set_param(PREFIX + "consent_policy", self.old_consent_policy or False)
            scenarios = env["email.automation.scenario"].browse(self.scenario_ids)
            scenarios.write({"state": "stopped"})
            env["mail.message"].search([("model", "=", "res.partner"), ("res_id", "in", self.partner_ids)]).unlink()
            env["email.automation.enrolment"].search([("res_id", "in", self.partner_ids)]).unlink()
            scenarios.unlink()
            env["mail.template"].browse(self.template_id).unlink()
            env["res.partner"].browse(self.partner_ids).unlink()
            env["ir.mail_server"].browse(self.server_id).unlink()

    def run_lanes(self, work, lanes=2):
        """Run `work(env)` in `lanes` threads, each with its own cursor, released together;
        return their results and errors."""
        barrier = threading.Barrier(lanes)
        results, errors = [None] * lanes, []

        def lane(number):
            try:
                with self.env_cursor() as env:
                    barrier.wait(timeout=30)
                    results[number] = work(env)
            except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
                errors.append(error)

        threads = [threading.Thread(target=lane, args=(number,)) for number in range(lanes)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return results, errors

    def traces(self, env, scenario_ids=None):
        return env["email.automation.trace"].search([("scenario_id", "in", scenario_ids or self.scenario_ids)])

    def test_two_lanes_never_claim_the_same_trace(self):
        self.enrol(self.create_scenario("Lanes claim"), self.partner_ids)

        def claim_until_empty(env):
            claimed = []
            while True:
                # As the queue claims: a READ COMMITTED transaction committed at once.
                env.cr.commit()
                env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                batch = env["email.automation.trace"]._claim_due(3)
                env.cr.commit()
                if not batch:
                    return claimed
                claimed += batch.ids

        (first, second), errors = self.run_lanes(claim_until_empty)
        self.assertFalse(errors)
        self.assertTrue(first and second, "both lanes claimed a share")
        self.assertFalse(set(first) & set(second), "no trace claimed by both lanes")
        with self.env_cursor() as env:
            traces = self.traces(env)
            self.assertEqual(sorted(first + second), sorted(traces.ids), "every due trace claimed once")
            self.assertEqual(set(traces.mapped("attempt_count")), {1})

    def test_two_lanes_mailing_one_contact_at_once_keep_the_frequency_cap(self):
        cap = {"category": "marketing", "frequency_cap_mode": "custom", "frequency_cap_count": 1}
        cap["frequency_cap_days"] = 7
        news, offer = self.create_scenario("Lanes news", **cap), self.create_scenario("Lanes offer", **cap)
        # Interleaved: each contact's two e-mails are next to each other in the queue, so
        # that the two lanes, claiming one at a time, take them at the same instant.
        for partner_id in self.partner_ids:
            self.enrol(news, [partner_id])
            self.enrol(offer, [partner_id])

        def process(env):
            return env["email.automation.queue"]._process_due_traces(batch_size=1, auto_commit=True)

        with real_smtp_patch():
            processed, errors = self.run_lanes(process)
        self.assertFalse(errors)
        self.assertTrue(all(processed), f"both lanes worked: {processed}")
        per_recipient = Counter(message["To"] for message in self.smtp.messages)
        self.assertEqual(len(per_recipient), self.PARTNERS, "every contact got its first e-mail")
        self.assertEqual(set(per_recipient.values()), {1}, f"over the cap of one: {per_recipient}")
        with self.env_cursor() as env:
            traces = self.traces(env)
            self.assertEqual(Counter(traces.mapped("state")), Counter(sent=self.PARTNERS, scheduled=self.PARTNERS))
            deferred = traces.filtered(lambda t: t.state == "scheduled")
            self.assertEqual(set(deferred.mapped("reason")), {"frequency_cap"})
            self.assertGreater(min(deferred.mapped("scheduled_at")), datetime.now(), "deferred until the cap frees")

    def test_two_lanes_reserving_at_the_same_instant_keep_the_rate_limit(self):
        channel = f"lanes-test-{self.server_id}"
        now = datetime.now().replace(second=1)

        def reserve(env):
            counters = env["email.automation.rate.counter"].with_context(email_automation_auto_commit=True)
            return counters._reserve(channel, 10, {"minute": 15, "hour": 0}, now)

        def clean():
            with self.env_cursor() as env:
                env.cr.execute("DELETE FROM email_automation_rate_counter WHERE channel = %s", [channel])

        self.addCleanup(clean)
        results, errors = self.run_lanes(reserve)
        self.assertFalse(errors)
        self.assertEqual(sorted(granted for granted, _retry in results), [5, 10], "15 in all, not 20")
        retry_at = next(retry for granted, retry in results if granted == 5)
        self.assertEqual(retry_at, now.replace(second=0, microsecond=0) + timedelta(minutes=1), "the next minute")

    def test_claims_of_a_killed_worker_return_at_once_and_a_live_lanes_stay(self):
        self.enrol(self.create_scenario("Lanes dead claims"), self.partner_ids)
        worker = subprocess.run(
            [sys.executable, "-c", CLAIM_AND_DIE, get_db_name(), config["addons_path"]],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        self.assertEqual(worker.returncode, -signal.SIGKILL)
        self.assertEqual(worker.stdout.strip(), "5")
        with self.env_cursor() as live:
            live_claims = live["email.automation.trace"]._claim_due(3)
            live.cr.commit()
            with self.env_cursor() as env:
                recovered = env["email.automation.trace"]._recover_stale_claims(timedelta(minutes=30))
                self.assertEqual(len(recovered), 5, "the dead worker's claims, long before the timeout")
                self.assertFalse(recovered & live_claims.with_env(env), "a live lane keeps its claims")
                states = Counter(self.traces(env).mapped("state"))
            self.assertEqual(states, Counter(scheduled=self.PARTNERS - 3, processing=3))
