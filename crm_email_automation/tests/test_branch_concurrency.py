"""Outcome decisions under concurrency, with real transactions: these tests commit, then clean up."""

import threading
import time
from datetime import datetime, timedelta

from psycopg2.extensions import TransactionRollbackError

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name, tagged

from .branch_common import event_for


@tagged("post_install", "-at_install")
class TestBranchConcurrency(BaseCase):
    """An open reported while the window scan decides "not opened", two workers scanning at
    once: each participant still takes exactly one side."""

    PARTNERS = 12

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        # Sent two days ago; the one-day "not opened" window closed yesterday.
        self.sent_at = datetime.now().replace(microsecond=0) - timedelta(days=2)
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            partners = env["res.partner"].create(
                [{"name": f"Race {i}", "email": f"race{i}@example.com"} for i in range(self.PARTNERS)]
            )
            template = env["mail.template"].create(
                {"name": "Race template", "model_id": env["ir.model"]._get_id("res.partner"), "subject": "Race"}
            )
            provider = env["email.automation.provider"].create({"name": "Race SMTP", "kind": "smtp"})
            scenario = env["email.automation.scenario"].create(
                {
                    "name": "Race scenario",
                    "model_id": env["ir.model"]._get_id("res.partner"),
                    "trigger": "manual",
                    "category": "transactional",
                    "provider_id": provider.id,
                    "step_ids": [
                        (0, 0, {"name": "Offer", "trigger_type": "begin", "mail_template_id": template.id}),
                    ],
                }
            )
            parent = scenario.step_ids
            env["email.automation.step"].create(
                [
                    {
                        "name": name,
                        "scenario_id": scenario.id,
                        "parent_id": parent.id,
                        "trigger_type": trigger,
                        "trigger_window": 1,
                        "mail_template_id": template.id,
                        # Far in the future: the race is about deciding, not sending.
                        "delay": 30,
                    }
                    for name, trigger in (("Thanks", "mail_opened"), ("Reminder", "mail_not_opened"))
                ]
            )
            scenario.action_start()
            traces = env["email.automation.trace"]
            for partner in partners:
                participant = env["email.automation.participant"].create(
                    {"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id}
                )
                trace = traces.create(
                    {
                        "participant_id": participant.id,
                        "step_id": parent.id,
                        "state": "sent",
                        "sent_at": self.sent_at,
                        "email_to": partner.email,
                        "provider_id": provider.id,
                    }
                )
                participant._schedule_next_steps(trace)
                traces |= trace
            self.data = {
                "partners": partners.ids,
                "template": template.id,
                "provider": provider.id,
                "scenario": scenario.id,
                "traces": traces.ids,
            }
        self.addCleanup(self.delete_data)

    def delete_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            scenario = env["email.automation.scenario"].browse(self.data["scenario"])
            scenario.state = "stopped"
            scenario.unlink()
            env["mail.template"].browse(self.data["template"]).unlink()
            env["email.automation.provider"].browse(self.data["provider"]).unlink()
            env["res.partner"].browse(self.data["partners"]).unlink()

    def in_threads(self, *jobs):
        """Run each job in its own thread with its own cursor, started together; return the
        errors they raised. A job is called with its env and may return a callable run just
        before its commit (to hold its transaction open)."""
        barrier = threading.Barrier(len(jobs))
        errors = []

        def run(job):
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(timeout=30)
                    job(env)
            except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
                # A serialization failure is what Odoo retries (a request, the cron's next run).
                errors.append(error)

        threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return errors

    def ingest_opens(self, env, hold=0):
        """What a webhook request does: the opens of all the e-mails, within their window."""
        traces = env["email.automation.trace"].browse(self.data["traces"])
        opened = self.sent_at + timedelta(hours=3)
        env["email.automation.event"]._ingest(
            env["email.automation.provider"].browse(self.data["provider"]),
            [event_for(trace, "open", opened) for trace in traces],
        )
        time.sleep(hold)

    def scan(self, env, hold=0):
        """What the queue does: decide the windows that closed, in READ COMMITTED."""
        env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        env["email.automation.branch.decision"]._decide_closed_windows(limit=5)
        time.sleep(hold)

    def sides(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = []
            for trace in env["email.automation.trace"].browse(self.data["traces"]):
                names = trace.participant_id.trace_ids.mapped("step_id.name")
                decisions = env["email.automation.branch.decision"].search([("trace_id", "=", trace.id)])
                result.append((names.count("Thanks"), names.count("Reminder"), len(decisions)))
            return result

    def assertOneSideEach(self):
        sides = self.sides()
        self.assertTrue(all(side in ((1, 0, 1), (0, 1, 1)) for side in sides), sides)
        return sides

    def test_open_and_window_scan_racing_take_one_side(self):
        errors = self.in_threads(lambda env: self.ingest_opens(env, hold=0.5), lambda env: self.scan(env, hold=0.5))
        self.assertTrue(all(isinstance(error, TransactionRollbackError) for error in errors), errors)
        # Whatever lost is retried, as Odoo retries a request or runs the cron again.
        self.assertFalse(self.in_threads(self.ingest_opens))
        self.assertFalse(self.in_threads(self.scan))
        self.assertOneSideEach()

    def test_scan_first_then_late_open_schedules_nothing(self):
        self.assertFalse(self.in_threads(self.scan))
        self.assertEqual(set(self.sides()), {(0, 1, 1)})
        self.assertFalse(self.in_threads(self.ingest_opens))
        self.assertEqual(set(self.sides()), {(0, 1, 1)}, "the late opens are recorded, nothing more")

    def test_open_first_then_scan_schedules_nothing(self):
        self.assertFalse(self.in_threads(self.ingest_opens))
        self.assertFalse(self.in_threads(self.scan))
        self.assertEqual(set(self.sides()), {(1, 0, 1)})

    def test_two_workers_scanning_decide_each_window_once(self):
        self.assertFalse(self.in_threads(self.scan, self.scan))
        self.assertEqual(set(self.sides()), {(0, 1, 1)})

    def test_two_webhooks_reporting_the_same_opens_decide_once(self):
        def other_webhook(env):
            traces = env["email.automation.trace"].browse(self.data["traces"])
            clicked = self.sent_at + timedelta(hours=4)
            env["email.automation.event"]._ingest(
                env["email.automation.provider"].browse(self.data["provider"]),
                [event_for(trace, "click", clicked, url="https://example.com") for trace in traces],
            )
            time.sleep(0.5)

        errors = self.in_threads(lambda env: self.ingest_opens(env, hold=0.5), other_webhook)
        self.assertTrue(all(isinstance(error, TransactionRollbackError) for error in errors), errors)
        if errors:
            self.assertFalse(self.in_threads(other_webhook))
        self.assertEqual(set(self.sides()), {(1, 0, 1)})
