from odoo import api, fields, models


class EmailAutomationTrace(models.Model):
    """An activity is created, not sent: the status reads "Done" for the steps that send
    nothing, "Sent" for e-mails only."""

    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    display_state = fields.Selection(
        [
            ("scheduled", "Scheduled"),
            ("processing", "Processing"),
            ("sent", "Sent"),
            ("done", "Done"),
            ("skipped", "Skipped"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        string="Status",
        compute="_compute_display_state",
    )

    @api.depends("state", "step_id.action_type")
    def _compute_display_state(self):
        for trace in self:
            done_without_mail = trace.state == "sent" and trace.step_id.action_type != "mail"
            trace.display_state = "done" if done_without_mail else trace.state
