from odoo import models


class EmailAutomationScenario(models.Model):
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    def action_export_yaml(self):
        """Download the selected scenarios, their steps and templates as a YAML file."""
        return {
            "type": "ir.actions.act_url",
            "url": "/email_automation/scenarios/export?ids=" + ",".join(str(i) for i in self.ids),
            "target": "self",
        }
