from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, get_db_name, tagged

from .common import EmailAutomationCommon
from .cron_listener import cron_notifications, listen_cron_trigger

QUEUE_CRON = "crm_email_automation.ir_cron_process_queue"


@tagged("post_install", "-at_install")
class TestQueueWakeUp(EmailAutomationCommon):
    """A trigger wakes the queue's cron at commit, so that what is due now leaves in seconds,
    and what is due later wakes it when it comes."""

    def setUp(self):
        super().setUp()
        self.cron = self.env.ref(QUEUE_CRON)
        # The scheduled run (the safety net) is 5 minutes away, as after a run.
        self.cron.nextcall = fields.Datetime.now() + timedelta(minutes=5)
        self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", self.cron.id)]).unlink()

    def queue_triggers(self):
        # What a commit would do: run the transaction's precommit hooks.
        self.env.cr.flush()
        return self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", self.cron.id)])

    def new_transaction(self):
        """What came before is committed and its triggers consumed."""
        self.queue_triggers().unlink()

    def test_an_enrolling_create_wakes_the_queue_once_per_transaction(self):
        self.create_scenario(trigger="on_create")
        self.new_transaction()
        self.env["res.partner"].create({"name": "Anna Nowak", "email": "anna@example.org"})
        self.env["res.partner"].create([{"name": f"Contact {n}", "email": f"c{n}@example.org"} for n in range(3)])
        woken = self.queue_triggers()
        self.assertEqual(len(woken), 1, "one trigger for the whole transaction, however many records it enrols")
        self.assertLessEqual(woken.call_at, fields.Datetime.now(), "due at once, not at the next scheduled run")

    def test_a_write_no_scenario_watches_does_not_wake_the_queue(self):
        self.create_scenario(trigger="on_create")
        self.new_transaction()
        self.partner_en.write({"phone": "+44 20 7946 0000"})
        self.assertFalse(self.queue_triggers())

    def test_a_manual_enrolment_by_a_manager_wakes_the_queue_at_once(self):
        scenario = self.create_scenario()
        self.new_transaction()
        wizard = (
            self.env["email.automation.enrol.wizard"]
            .with_user(self.user_manager)
            .with_context(active_model="res.partner", active_ids=self.partner_pl.ids)
            .create({"scenario_id": scenario.id})
        )
        wizard.action_enrol()
        woken = self.queue_triggers()
        self.assertEqual(len(woken), 1)
        self.assertLessEqual(woken.call_at, fields.Datetime.now())

    def test_a_step_due_in_two_minutes_wakes_the_queue_when_it_comes(self):
        scenario = self.create_scenario(steps=[{"name": "Soon", "delay": 2, "delay_unit": "minutes"}])
        self.new_transaction()
        scenario._enrol(self.partner_en.ids)
        trace = scenario.participant_ids.trace_ids
        woken = self.queue_triggers()
        self.assertEqual(woken.mapped("call_at"), [trace.scheduled_at], "one trigger, when the step is due")

    def test_a_step_due_after_the_next_scheduled_run_adds_no_trigger(self):
        # The scheduled run plans the next due time itself (see the test below).
        scenario = self.create_scenario(steps=[{"name": "Tomorrow", "delay": 1, "delay_unit": "days"}])
        self.new_transaction()
        scenario._enrol(self.partner_en.ids)
        self.assertFalse(self.queue_triggers())

    def test_the_queue_run_plans_a_trigger_for_the_next_due_step(self):
        scenario = self.create_scenario(steps=[{"name": "Tomorrow", "delay": 1, "delay_unit": "days"}])
        self.new_transaction()
        scenario._enrol(self.partner_en.ids)
        self.assertFalse(self.queue_triggers())
        # The run after which the step is the first thing due (its scheduled call passed).
        self.cron.nextcall = fields.Datetime.now() - timedelta(seconds=1)
        self.run_queue()
        due = scenario.participant_ids.trace_ids.scheduled_at
        self.assertEqual(self.queue_triggers().mapped("call_at"), [due])

    def test_a_retried_trace_wakes_the_queue(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        trace = scenario.participant_ids.trace_ids
        trace.write({"state": "failed"})
        self.new_transaction()
        trace.with_user(self.user_manager).action_retry()
        woken = self.queue_triggers()
        self.assertEqual(len(woken), 1)
        self.assertLessEqual(woken.call_at, fields.Datetime.now())

    def test_a_test_run_does_not_wake_the_queue(self):
        scenario = self.create_scenario()
        self.new_transaction()
        participant = scenario.with_user(self.user_manager)._start_test_run(self.partner_en.id, "tester@example.org")
        self.assertTrue(participant.trace_ids, "the test run's first step is scheduled")
        self.assertFalse(self.queue_triggers(), "test runs advance on demand, never through the queue")


@tagged("post_install", "-at_install")
class TestQueueWakeUpAtCommit(BaseCase):
    """With real transactions: a committed enrolment leaves a trigger and notifies the cron
    workers after its commit; a rolled-back one leaves nothing and notifies nobody."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.cron_id = env.ref(QUEUE_CRON).id
            env["ir.cron"].browse(self.cron_id).nextcall = fields.Datetime.now() + timedelta(minutes=5)
            self.partner_id = env["res.partner"].create({"name": "Commit test", "email": "commit@example.org"}).id
            template = env["mail.template"].create(
                {"name": "Commit test", "model_id": env["ir.model"]._get_id("res.partner"), "subject": "Hi"}
            )
            scenario = env["email.automation.scenario"].create(
                {
                    "name": "Commit test",
                    "model_id": env["ir.model"]._get_id("res.partner"),
                    "trigger": "manual",
                    "category": "transactional",
                    "step_ids": [(0, 0, {"name": "Hi", "mail_template_id": template.id, "delay": 0})],
                }
            )
            scenario.action_start()
            self.scenario_id, self.template_id = scenario.id, template.id
            cr.execute("SELECT coalesce(max(id), 0) FROM ir_cron_trigger")
            self.last_trigger_id = cr.fetchone()[0]
        self.addCleanup(self.delete_data)
        # A cron worker's way of waiting for work (odoo/service/server.py).
        self.listener = listen_cron_trigger(self)

    def delete_data(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            scenario = env["email.automation.scenario"].browse(self.scenario_id)
            scenario.participant_ids.trace_ids.unlink()
            scenario.participant_ids.unlink()
            scenario.write({"state": "stopped"})
            scenario.unlink()
            env["mail.template"].browse(self.template_id).unlink()
            env["res.partner"].browse(self.partner_id).unlink()
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger_id])

    def enrol(self, commit):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["email.automation.scenario"].browse(self.scenario_id)._enrol([self.partner_id])
            # Nobody is told before the commit.
            self.assertFalse(self.notifications(wait=0.2))
            if not commit:
                cr.rollback()

    def new_triggers(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT call_at FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                [self.cron_id, self.last_trigger_id],
            )
            return [row[0] for row in cr.fetchall()]

    def notifications(self, wait):
        return cron_notifications(self.listener, wait)

    def test_a_committed_enrolment_wakes_the_cron_workers(self):
        self.enrol(commit=True)
        self.assertEqual(len(self.new_triggers()), 1)
        self.assertLessEqual(self.new_triggers()[0], fields.Datetime.now())
        self.assertTrue(self.notifications(wait=5), "the cron workers are notified after the commit")

    def test_a_rolled_back_enrolment_wakes_nobody(self):
        self.enrol(commit=False)
        self.assertFalse(self.new_triggers())
        self.assertFalse(self.notifications(wait=1))
