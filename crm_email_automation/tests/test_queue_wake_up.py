from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestQueueWakeUp(EmailAutomationCommon):
    """A trigger wakes the queue's cron at commit, so that what is due now leaves in seconds."""

    def queue_triggers(self):
        cron = self.env.ref("crm_email_automation.ir_cron_process_queue")
        return self.env["ir.cron.trigger"].sudo().search([("cron_id", "=", cron.id)])

    def test_an_enrolling_create_wakes_the_queue_once_per_transaction(self):
        self.create_scenario(trigger="on_create")
        before = self.queue_triggers()
        self.env["res.partner"].create({"name": "Anna Nowak", "email": "anna@example.org"})
        self.env["res.partner"].create([{"name": f"Contact {n}", "email": f"c{n}@example.org"} for n in range(3)])
        woken = self.queue_triggers() - before
        self.assertEqual(len(woken), 1, "one trigger for the whole transaction, however many records it enrols")
        self.assertLessEqual(woken.call_at, fields.Datetime.now(), "due at once, not at the next scheduled run")

    def test_a_write_no_scenario_watches_does_not_wake_the_queue(self):
        self.create_scenario(trigger="on_create")
        before = self.queue_triggers()
        self.partner_en.write({"phone": "+44 20 7946 0000"})
        self.assertFalse(self.queue_triggers() - before)
