from odoo import api, fields, models

WIZARD_EVENTS = {"granted": "granted", "withdrawn": "withdrawn"}


class EmailAutomationConsentWizard(models.TransientModel):
    """A manager changes contacts' e-mail consent; the reason goes to the ledger."""

    _name = "email.automation.consent.wizard"
    _description = "Change E-mail Consent"

    partner_ids = fields.Many2many("res.partner", string="Contacts", required=True)
    new_state = fields.Selection(
        [("granted", "Granted"), ("withdrawn", "Withdrawn")], string="New Consent", required=True, default="granted"
    )
    wording_id = fields.Many2one(
        "email.automation.consent.wording",
        default=lambda self: self.env["email.automation.consent.wording"]._get_current(),
        help="The consent text the person agreed to.",
    )
    reason = fields.Text(required=True, help="Why the consent changes, for example: signed paper form of 3 March.")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        context = self.env.context
        if (
            "partner_ids" in fields_list
            and not res.get("partner_ids")
            and context.get("active_model") == "res.partner"
            and context.get("active_ids")
        ):
            res["partner_ids"] = [(6, 0, context["active_ids"])]
        return res

    def action_apply(self):
        self.ensure_one()
        self.partner_ids._check_email_automation_manager()
        self.partner_ids._email_consent_record(
            WIZARD_EVENTS[self.new_state],
            "user",
            wording=self.wording_id if self.new_state == "granted" else None,
            reason=self.reason,
        )
        return {"type": "ir.actions.act_window_close"}
