from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationRemoveWizard(models.TransientModel):
    """A salesperson takes documents out of their e-mail scenario, saying why."""

    _name = "email.automation.remove.wizard"
    _description = "Remove from E-mail Scenario"

    participant_ids = fields.Many2many("email.automation.participant", string="Participations", required=True)
    reason = fields.Text(required=True, help="Why the document leaves the scenario; kept on the participation.")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        context = self.env.context
        if (
            "participant_ids" in fields_list
            and not res.get("participant_ids")
            and context.get("active_model") == "email.automation.participant"
            and context.get("active_ids")
        ):
            res["participant_ids"] = [(6, 0, context["active_ids"])]
        return res

    def action_apply(self):
        self.ensure_one()
        reason = (self.reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why the document leaves the scenario."))
        self.participant_ids._check_can_remove()
        self.participant_ids._remove_from_scenario(reason)
        return {"type": "ir.actions.act_window_close"}
