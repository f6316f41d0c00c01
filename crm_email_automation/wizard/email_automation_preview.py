from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationPreview(models.TransientModel):
    """A step's e-mail as a chosen record's recipient would read it, in their language;
    and "Send me a test" of it."""

    _name = "email.automation.preview"
    _description = "E-mail Automation Step Preview"

    step_id = fields.Many2one("email.automation.step", required=True, readonly=True, ondelete="cascade")
    scenario_id = fields.Many2one(related="step_id.scenario_id")
    res_model = fields.Char(related="step_id.model_name", string="Model Name")
    res_id = fields.Many2oneReference(string="Record", model_field="res_model")
    preview_lang = fields.Char(string="Language", compute="_compute_preview")
    preview_email_to = fields.Char(string="To", compute="_compute_preview")
    preview_subject = fields.Char(string="Subject", compute="_compute_preview")
    # Sanitized (the default): shown in the back office, whatever a template holds runs no script.
    preview_body = fields.Html(string="Body", compute="_compute_preview")
    preview_error = fields.Char(string="Cannot Preview", compute="_compute_preview")

    @api.depends("step_id", "res_id")
    def _compute_preview(self):
        self.env["email.automation.scenario"]._check_testing_rights()
        langs = dict(self.env["res.lang"].get_installed())
        for wizard in self:
            values = {}
            wizard.preview_error = False
            if wizard.step_id and wizard.res_id:
                try:
                    values = wizard.step_id.scenario_id._render_preview(wizard.step_id._origin, wizard.res_id)
                except UserError as error:
                    wizard.preview_error = error.args[0]
            wizard.preview_lang = langs.get(values.get("lang"), values.get("lang") or False)
            wizard.preview_email_to = values.get("email_to") or False
            wizard.preview_subject = values.get("subject") or False
            wizard.preview_body = Markup(values.get("body_html") or "")

    def action_send_test(self):
        """Send the step's e-mail for the record to the current user, marked as a test,
        through the scenario's provider; nothing reaches the record's contact."""
        self.ensure_one()
        if not self.env.user.email:
            raise UserError(self.env._("Your user has no e-mail address to send the test to."))
        scenario = self.step_id.scenario_id
        participant = scenario._start_test_run(self.res_id, self.env.user.email, steps=self.step_id)
        trace = participant._run_next_test_step()
        # sudo: the one-step test participation ends here; managers only.
        participant.sudo()._end("completed")
        if trace.state == "sent":
            notification_type = "success"
            message = self.env._(
                "Test e-mail sent to %(email)s. %(verdict)s", email=trace.email_to, verdict=trace.test_verdict or ""
            )
        else:
            notification_type = "warning"
            reasons = dict(trace._fields["reason"]._description_selection(self.env))
            message = self.env._(
                "No test e-mail sent: %(reason)s %(detail)s",
                reason=reasons.get(trace.reason, trace.reason or ""),
                detail=trace.reason_detail or "",
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": notification_type, "title": self.env._("Send me a test"), "message": message},
        }
