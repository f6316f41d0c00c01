from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationStep(models.Model):
    """A step that has run keeps its history: it is archived, never deleted; and the user
    to assign an activity to is picked by the field's label, not typed as a technical name."""

    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    active = fields.Boolean(
        default=True,
        help="An archived step schedules nothing new; its history stays with the participants.",
    )
    activity_user_field_id = fields.Many2one(
        "ir.model.fields",
        string="Assign To",
        compute="_compute_activity_user_field_id",
        inverse="_inverse_activity_user_field_id",
        domain="[('model', '=', model_name), ('ttype', '=', 'many2one'), ('relation', '=', 'res.users')]",
        help="The user field of the record whose user gets the activity (its salesperson, say); "
        "empty, or when the record has no user there: the scenario's responsible.",
    )

    @api.depends("activity_user_field", "model_name")
    def _compute_activity_user_field_id(self):
        Fields = self.env["ir.model.fields"]
        for step in self:
            name = step.activity_user_field
            step.activity_user_field_id = (
                Fields._get(step.model_name, name) if name and step.model_name in self.env else False
            )

    def _inverse_activity_user_field_id(self):
        for step in self:
            step.activity_user_field = step.activity_user_field_id.name or False

    def write(self, vals):
        archived = self.filtered("active") if vals.get("active") is False else self.browse()
        result = super().write(vals)
        archived._cancel_scheduled_traces()
        return result

    def _cancel_scheduled_traces(self):
        """An archived step runs no more: what it still had to do is cancelled, and the
        participations with nothing left end."""
        # sudo: the queue's traces; the manager archiving the step may change its scenario.
        traces = (
            self.env["email.automation.trace"].sudo().search([("step_id", "in", self.ids), ("state", "=", "scheduled")])
        )
        traces._finish("cancelled", "manual")
        traces.participant_id._complete_finished()

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_history(self):
        # sudo: whether a step has run must not depend on which traces one may read.
        used = self.env["email.automation.trace"].sudo()._read_group([("step_id", "in", self.ids)], ["step_id"])
        if used:
            (step,) = used[0]
            raise UserError(
                self.env._(
                    "Step “%(name)s” has already run for participants: deleting it would delete "
                    "their history. Archive it instead: open the step and click Archive.",
                    name=step.name,
                )
            )
