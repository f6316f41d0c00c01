from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import str2bool

PREFIX = "crm_email_automation."
# The sending policy the E-mail Automation manager decides: field name -> (type, default).
# Stored as the same system parameters as the general Settings (where administrators see
# them too). The queue's tuning and the Mailchimp connection stay administrators' business.
POLICY_PARAMETERS = {
    "consent_policy": (str, "opt_in"),
    "frequency_cap_count": (int, 3),
    "frequency_cap_days": (int, 7),
    "quiet_hours": (bool, False),
    "send_window_start": (float, 8.0),
    "send_window_end": (float, 20.0),
    "rate_limit_minute": (int, 0),
    "rate_limit_hour": (int, 0),
    "soft_bounce_limit": (int, 3),
    "doi_validity_hours": (int, 72),
    "retention_months": (int, 24),
}
SEND_DAY_FIELDS = [f"send_day_{day}" for day in range(7)]


class EmailAutomationSettings(models.TransientModel):
    """The sending policy, as a form the E-mail Automation manager may open and save
    (Odoo's general Settings need the Administration / Settings right)."""

    _name = "email.automation.settings"
    _description = "E-mail Automation Sending Policy"

    consent_policy = fields.Selection(
        [("opt_in", "Explicit opt-in"), ("opt_out", "Opt-out (where the law allows it)")],
        string="Marketing Consent",
        required=True,
    )
    frequency_cap_count = fields.Integer(string="Frequency Cap: E-mails", help="0: no cap.")
    frequency_cap_days = fields.Integer(string="Frequency Cap: Days")
    quiet_hours = fields.Boolean()
    send_window_start = fields.Float(string="Send From")
    send_window_end = fields.Float(string="Send Until")
    send_day_0 = fields.Boolean(string="Monday")
    send_day_1 = fields.Boolean(string="Tuesday")
    send_day_2 = fields.Boolean(string="Wednesday")
    send_day_3 = fields.Boolean(string="Thursday")
    send_day_4 = fields.Boolean(string="Friday")
    send_day_5 = fields.Boolean(string="Saturday")
    send_day_6 = fields.Boolean(string="Sunday")
    rate_limit_minute = fields.Integer(string="E-mails per Minute", help="Per outgoing mail server; 0: no limit.")
    rate_limit_hour = fields.Integer(string="E-mails per Hour", help="Per outgoing mail server; 0: no limit.")
    soft_bounce_limit = fields.Integer(string="Soft Bounces Before Suppression")
    doi_validity_hours = fields.Integer(string="Confirmation Link Validity (hours)")
    retention_months = fields.Integer(string="Keep History (months)", help="0: kept forever.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        values.update({name: value for name, value in self._read_parameters().items() if name in fields_list})
        return values

    @api.model
    def _read_parameters(self):
        # sudo: system parameters are readable by administrators only; these are the module's own.
        get = self.env["ir.config_parameter"].sudo().get_param
        values = {}
        for name, (kind, default) in POLICY_PARAMETERS.items():
            raw = get(PREFIX + name)
            if raw in (None, False, ""):
                values[name] = default
            elif kind is bool:
                values[name] = str2bool(raw, default)
            else:
                try:
                    values[name] = kind(raw)
                except ValueError:
                    values[name] = default
        days = get(PREFIX + "send_days", "0123456") or ""
        values.update({name: str(day) in days for day, name in enumerate(SEND_DAY_FIELDS)})
        return values

    @api.constrains(*POLICY_PARAMETERS, *SEND_DAY_FIELDS)
    def _check_policy(self):
        counts = [name for name, (kind, _default) in POLICY_PARAMETERS.items() if kind is int]
        for settings in self:
            negative = [name for name in counts if settings[name] < 0]
            if negative:
                raise ValidationError(
                    self.env._(
                        "%(field)s: the value cannot be negative.",
                        field=self._fields[negative[0]]._description_string(self.env),
                    )
                )
            not_positive = [name for name in ("soft_bounce_limit", "doi_validity_hours") if settings[name] <= 0]
            if not_positive:
                raise ValidationError(
                    self.env._(
                        "%(field)s: the value must be positive.",
                        field=self._fields[not_positive[0]]._description_string(self.env),
                    )
                )
            if settings.frequency_cap_count and settings.frequency_cap_days <= 0:
                raise ValidationError(self.env._("Frequency Cap: Days: the period of the cap must be positive."))
            if not 0 <= settings.send_window_start < settings.send_window_end <= 24:
                raise ValidationError(self.env._("The send window must start before it ends, within the day."))
            if settings.quiet_hours and not any(settings[name] for name in SEND_DAY_FIELDS):
                raise ValidationError(self.env._("Quiet Hours: choose at least one day on which e-mail is sent."))

    def action_save(self):
        self.ensure_one()
        self._write_parameters()
        return {"type": "ir.actions.act_window_close"}

    def _write_parameters(self):
        self.ensure_one()
        # sudo: system parameters are written by administrators only; the manager may set the
        # sending policy, and only these parameters of the module (the model's ACL says who).
        set_param = self.env["ir.config_parameter"].sudo().set_param
        for name, (kind, _default) in POLICY_PARAMETERS.items():
            # A false Boolean removes the parameter, as the general Settings do.
            set_param(PREFIX + name, self[name] if kind is bool else str(self[name]))
        set_param(PREFIX + "send_days", "".join(str(day) for day, name in enumerate(SEND_DAY_FIELDS) if self[name]))
