from odoo import api, fields, models


class EmailAutomationScenario(models.Model):
    _inherit = "email.automation.scenario"

    provider_id = fields.Many2one(
        "email.automation.provider",
        string="Provider",
        domain="[('company_id', 'in', [company_id, False])]",
        help="How this scenario's e-mails leave. Empty: the company's default provider.",
    )
    provider_kind = fields.Selection(related="provider_id.kind", string="Provider Kind")

    def _get_provider(self):
        """The provider this scenario sends through; empty means Odoo's SMTP servers."""
        self.ensure_one()
        return self.provider_id or self.env["email.automation.provider"].sudo()._get_default(self.company_id)

    @api.onchange("provider_id")
    def _onchange_provider_id(self):
        if self.provider_id.kind not in (False, "smtp"):
            self.mail_server_id = False
