from odoo import api, fields, models
from odoo.exceptions import ValidationError


class IrActionsServer(models.Model):
    _inherit = "ir.actions.server"

    state = fields.Selection(
        selection_add=[("email_automation_enrol", "Enrol in e-mail scenario")],
        ondelete={"email_automation_enrol": "cascade"},
    )
    email_automation_scenario_id = fields.Many2one(
        "email.automation.scenario",
        string="E-mail Scenario",
        ondelete="cascade",
        domain="[('model_id', '=', model_id)]",
    )

    @api.constrains("state", "email_automation_scenario_id", "model_id")
    def _check_email_automation_scenario(self):
        for action in self.filtered(lambda a: a.state == "email_automation_enrol"):
            if not action.email_automation_scenario_id:
                raise ValidationError(self.env._("E-mail Scenario: choose the scenario to enrol records in."))
            if action.email_automation_scenario_id.model_id != action.model_id:
                raise ValidationError(
                    self.env._("E-mail Scenario: the scenario must run on the same model as the action.")
                )

    def _run_action_email_automation_enrol_multi(self, eval_context=None):
        records = eval_context.get("records") or eval_context.get("record")
        if records:
            self.email_automation_scenario_id._enrol(records.ids)
        return False
