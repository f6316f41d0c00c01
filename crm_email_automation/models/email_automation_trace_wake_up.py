from odoo import api, models

from .email_automation_queue import QUEUE_RUN_KEY


class EmailAutomationTrace(models.Model):
    """Whatever makes a trace due (an enrolment, a branch decided by an event, a next step,
    a retry) wakes the queue: at commit when it is due now, else when it comes."""

    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    @api.model_create_multi
    def create(self, vals_list):
        traces = super().create(vals_list)
        traces._wake_up_queue_when_due()
        return traces

    def write(self, vals):
        result = super().write(vals)
        if "scheduled_at" in vals or vals.get("state") == "scheduled":
            self._wake_up_queue_when_due()
        return result

    def _wake_up_queue_when_due(self):
        if self.env.context.get(QUEUE_RUN_KEY):
            return  # the queue's own run takes them (see email.automation.queue)
        # Test runs advance on demand only, never through the queue.
        waiting = self.filtered(lambda trace: trace.state == "scheduled" and not trace.is_test)
        if waiting:
            self.env["email.automation.queue"]._wake_up(at=min(waiting.mapped("scheduled_at")))
