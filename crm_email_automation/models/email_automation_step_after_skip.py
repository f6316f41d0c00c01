from odoo import api, fields, models


class EmailAutomationStep(models.Model):
    # A concern of its own, in a file of its own: the step's model file stays small.
    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    parent_action_type = fields.Selection(related="parent_id.action_type", string="Previous Step Action")
    run_if_parent_skipped = fields.Boolean(
        string="Run Even If the E-mail Was Skipped",
        help="Run this step also when the e-mail before it was not sent because a policy skipped it "
        "(no consent, suppressed address, frequency cap, holdout, condition not met). Useful for a "
        "salesperson's call, which needs no consent. Otherwise the step runs only after a sent e-mail.",
    )

    @api.onchange("parent_id", "trigger_type")
    def _onchange_run_if_parent_skipped(self):
        if self.trigger_type == "begin" or self.parent_id.action_type != "mail":
            self.run_if_parent_skipped = False


class EmailAutomationTrace(models.Model):
    """Steps marked "run even if the e-mail was skipped" follow a skipped e-mail step:
    they are scheduled as after a sent one, before the other following steps are
    recorded as cancelled."""

    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    def _cancel_children_of_unfinished(self):
        self._schedule_children_run_if_skipped()
        return super()._cancel_children_of_unfinished()

    def _schedule_children_run_if_skipped(self):
        """Schedule the following steps marked to run after a skipped e-mail of `self`."""
        skipped = self.filtered(
            lambda t: t.state == "skipped"
            and t.step_id.action_type == "mail"
            and t.participant_id.state == "running"
            and t.step_id.child_ids.filtered("run_if_parent_skipped")
        )
        now = fields.Datetime.now()
        vals_list = [
            {
                "participant_id": trace.participant_id.id,
                "step_id": child.id,
                "scheduled_at": now + child._delay_timedelta(),
            }
            for trace in skipped
            for child in trace.step_id.child_ids.filtered("run_if_parent_skipped")
            if child not in trace.participant_id.trace_ids.step_id
        ]
        if vals_list:
            # sudo: the queue schedules the steps of the participation, whoever runs it.
            self.sudo().create(vals_list)
