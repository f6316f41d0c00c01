from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .email_automation_participant_results import DEFAULT_ATTRIBUTION_DAYS, DEFAULT_CONVERSION_DAYS

# Parameter name -> default, as the general Settings store them.
CONVERSION_PARAMETERS = {"attribution_days": DEFAULT_ATTRIBUTION_DAYS, "conversion_days": DEFAULT_CONVERSION_DAYS}


def check_conversion_windows(env, attribution_days, conversion_days):
    if not 0 < attribution_days <= 365:
        raise ValidationError(env._("The attribution window must be between 1 and 365 days."))
    if not 0 < conversion_days <= 3650:
        raise ValidationError(env._("The conversion window must be between 1 and 3650 days."))


class EmailAutomationSettings(models.TransientModel):
    """The conversion windows on the manager's Sending Policy form."""

    _inherit = "email.automation.settings"  # pylint: disable=consider-merging-classes-inherited

    attribution_days = fields.Integer(
        string="Attribution Window (days)",
        help="A conversion is attributed to the last e-mail opened or clicked this many days before it.",
    )
    conversion_days = fields.Integer(
        string="Conversion Window (days)",
        help="After its last step, a participant still converts when its record reaches the goal within "
        "this many days of its enrolment.",
    )

    @api.model
    def _read_parameters(self):
        values = super()._read_parameters()
        Participant = self.env["email.automation.participant"]
        values.update(
            {name: Participant._conversion_setting(name, default) for name, default in CONVERSION_PARAMETERS.items()}
        )
        return values

    @api.constrains("attribution_days", "conversion_days")
    def _check_conversion_windows(self):
        for settings in self:
            check_conversion_windows(self.env, settings.attribution_days, settings.conversion_days)

    def _write_parameters(self):
        result = super()._write_parameters()
        # sudo: the manager sets these two parameters of the module, as the rest of the policy.
        set_param = self.env["ir.config_parameter"].sudo().set_param
        for name in CONVERSION_PARAMETERS:
            set_param(f"crm_email_automation.{name}", str(self[name]))
        return result
