"""Where outcome branches hook into the queue, the participants and the event intake
(the decisions themselves: email_automation_branch_decision.py)."""

from odoo import api, fields, models

from .email_automation_branch_decision import POSITIVE_EVENTS


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"

    outcome_due_at = fields.Datetime(
        string="Waits For Outcome Until",
        readonly=True,
        copy=False,
        help="When the next window for what the recipient does with this e-mail closes.",
    )

    def init(self):
        super().init()
        # Serves the queue's window scan: "sent traces whose outcome window closed", only the
        # ones still waiting (decided and finished traces leave the index).
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_outcome_due_idx
                ON email_automation_trace (outcome_due_at)
             WHERE outcome_due_at IS NOT NULL
            """
        )


class EmailAutomationParticipant(models.Model):
    _inherit = "email.automation.participant"

    def _schedule_next_steps(self, done_traces):
        super()._schedule_next_steps(done_traces)
        # Steps on an outcome (opened, not opened, record matches…) wait for it.
        self.env["email.automation.branch.decision"]._schedule_outcome_steps(done_traces)

    def _complete_finished(self):
        """A participation still waiting for what its recipient does is not finished."""
        if not self:
            return super()._complete_finished()
        waiting = (
            self.env["email.automation.trace"]
            .sudo()
            ._read_group(
                [("participant_id", "in", self.ids), ("outcome_due_at", "!=", False)],
                ["participant_id"],
            )
        )
        waiting_ids = {participant.id for (participant,) in waiting}
        return super(EmailAutomationParticipant, self.filtered(lambda p: p.id not in waiting_ids))._complete_finished()


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
