from odoo import api, fields, models

from .email_automation_participant_results import DEFAULT_ATTRIBUTION_DAYS, DEFAULT_CONVERSION_DAYS
from .email_automation_settings_conversion import check_conversion_windows


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    email_automation_attribution_days = fields.Integer(
        string="Attribution Window (days)",
        config_parameter="crm_email_automation.attribution_days",
        default=DEFAULT_ATTRIBUTION_DAYS,
        help="A conversion is attributed to the last e-mail opened or clicked this many days before it "
        "(last touch); without such a touch it counts for the scenario but no step gets it.",
    )
    email_automation_conversion_days = fields.Integer(
        string="Conversion Window (days)",
        config_parameter="crm_email_automation.conversion_days",
        default=DEFAULT_CONVERSION_DAYS,
        help="A participant that went through every step still converts when its record reaches the goal "
        "within this many days of its enrolment, held-out participants alike. Make it at least as long "
        "as the scenario.",
    )

    @api.constrains("email_automation_attribution_days", "email_automation_conversion_days")
    def _check_conversion_windows(self):
        for settings in self:
            check_conversion_windows(
                self.env, settings.email_automation_attribution_days, settings.email_automation_conversion_days
            )
