from odoo import api, fields, models
from odoo.exceptions import UserError


class EmailAutomationEnrolWizard(models.TransientModel):
    _name = "email.automation.enrol.wizard"
    _description = "Enrol Records in an E-mail Scenario"

    res_model = fields.Char(required=True, readonly=True)
    res_ids = fields.Json(string="Records", required=True, readonly=True)
    record_count = fields.Integer(compute="_compute_record_count")
    scenario_id = fields.Many2one(
        "email.automation.scenario",
        required=True,
        domain="[('model_name', '=', res_model), ('state', '=', 'running')]",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if context.get("active_model") and context.get("active_ids"):
            values.setdefault("res_model", context["active_model"])
            values.setdefault("res_ids", context["active_ids"])
        return values

    @api.depends("res_ids")
    def _compute_record_count(self):
        for wizard in self:
            wizard.record_count = len(wizard.res_ids or [])

    def action_enrol(self):
        self.ensure_one()
        if self.scenario_id.model_name != self.res_model:
            raise UserError(self.env._("The scenario runs on another kind of record."))
        # The user must be able to read what they enrol.
        records = self.env[self.res_model].browse(self.res_ids).exists()
        records.check_access("read")
        participants = self.scenario_id._enrol(records.ids)
        skipped = len(records) - len(participants)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if participants else "warning",
                "title": self.env._("Enrolment done"),
                "message": self.env._(
                    "Scenario “%(scenario)s”: records enrolled: %(enrolled)s; left out by its segment, its "
                    "re-entry policy or its responsible's access rights: %(skipped)s.",
                    enrolled=len(participants),
                    scenario=self.scenario_id.name,
                    skipped=skipped,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
