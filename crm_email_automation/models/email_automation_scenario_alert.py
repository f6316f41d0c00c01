from markupsafe import Markup

from odoo import fields, models


class EmailAutomationScenario(models.Model):
    """Scenarios paused by an alert say why; managers get their alert activities on them."""

    _name = "email.automation.scenario"
    _inherit = ["email.automation.scenario", "mail.activity.mixin"]  # pylint: disable=consider-merging-classes-inherited

    pause_reason = fields.Text(readonly=True, copy=False)

    def _pause_for_alert(self, reason):
        """Pause running scenarios because of an alert, with the reason on each."""
        running = self.filtered(lambda s: s.state == "running")
        if not running:
            return
        running.write({"state": "paused", "pause_reason": reason})
        for scenario in running:
            scenario.message_post(
                body=Markup("<p>%s</p><p>%s</p>") % (self.env._("Paused by an alert."), reason),
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def action_start(self):
        res = super().action_start()
        self.filtered("pause_reason").pause_reason = False
        return res
