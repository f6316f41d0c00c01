from odoo import models


class EmailAutomationProvider(models.Model):
    """A provider paused (by hand, by authentication failures, by a refused host) opens its
    alert at once, and resuming it sends the recovery notice (email_automation_alert.py)."""

    _name = "email.automation.provider"
    _inherit = ["email.automation.provider", "mail.activity.mixin"]  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        result = super().write(vals)
        if "state" in vals:
            self.env["email.automation.alert"]._sync_provider_pauses(self)
        return result

    def _running_marketing_scenarios(self):
        """The running marketing scenarios that send through this provider: chosen on the
        scenario, or as its company's default."""
        self.ensure_one()
        # sudo: the alert pauses them whoever evaluates it.
        scenarios = (
            self.env["email.automation.scenario"]
            .sudo()
            .search(
                [
                    ("state", "=", "running"),
                    ("category", "=", "marketing"),
                    ("provider_id", "in", [self.id, False]),
                ]
            )
        )
        return scenarios.filtered(lambda s: s.provider_id == self or s._get_provider() == self)
