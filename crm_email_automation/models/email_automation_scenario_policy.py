from odoo import api, fields, models
from odoo.exceptions import ValidationError


class EmailAutomationScenario(models.Model):
    _inherit = "email.automation.scenario"

    frequency_cap_mode = fields.Selection(
        [("default", "Default"), ("custom", "Custom"), ("none", "No cap")],
        string="Frequency Cap",
        default="default",
        required=True,
        help="How many marketing e-mails a contact may receive per period. Default: the setting.",
    )
    frequency_cap_count = fields.Integer(string="Cap: E-mails", default=3)
    frequency_cap_days = fields.Integer(string="Cap: Days", default=7)
    frequency_cap_action = fields.Selection(
        [("defer", "Send when the cap frees"), ("skip", "Skip the e-mail")],
        string="When Capped",
        default="defer",
        required=True,
    )

    @api.constrains("frequency_cap_mode", "frequency_cap_count", "frequency_cap_days")
    def _check_frequency_cap(self):
        for scenario in self.filtered(lambda s: s.frequency_cap_mode == "custom"):
            if scenario.frequency_cap_count < 1 or scenario.frequency_cap_days < 1:
                raise ValidationError(
                    self.env._(
                        "The frequency cap of “%(name)s” needs at least one e-mail and one day.", name=scenario.name
                    )
                )
