"""Where outcome branches hook into the queue and the event intake (the decisions
themselves: email_automation_branch_decision.py; the participants and traces call them
from their own files)."""

from odoo import api, models

from .email_automation_branch_decision import POSITIVE_EVENTS


class EmailAutomationEvent(models.Model):
    _inherit = "email.automation.event"

    @api.model
    def _insert_events(self, provider, known):
        """Every recorded signal (webhook, reply, pixel, click) passes here: a new human
        open, click, reply or bounce schedules the positive branch at once."""
        recorded = super()._insert_events(provider, known)
        trace_ids = sorted({trace_id for trace_id, event_type, _at in recorded if event_type in POSITIVE_EVENTS})
        if trace_ids:
            self.env["email.automation.branch.decision"]._decide_on_events(trace_ids)
        return recorded


class EmailAutomationQueue(models.AbstractModel):
    _inherit = "email.automation.queue"

    @api.model
    def _process_queue(self, auto_commit=False, time_budget=None):
        if auto_commit:
            # Decided in a transaction of its own, in READ COMMITTED: a decision a webhook
            # committed meanwhile is then skipped rather than failing the whole run.
            self.env.cr.commit()  # pylint: disable=invalid-commit
            self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        self.env["email.automation.branch.decision"]._decide_closed_windows(auto_commit=auto_commit)
        return super()._process_queue(auto_commit=auto_commit, time_budget=time_budget)
