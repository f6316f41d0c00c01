from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .email_automation_metrics import ALERT_PARAMETERS, PREFIX

# Thresholds whose 0 means "this alert is off": Odoo's Settings drop a parameter set to 0,
# and its default would come back.
ZERO_MEANS_OFF = ("alert_queue_lag_minutes", "alert_failure_rate", "alert_bounce_rate", "alert_complaint_rate")


class ResConfigSettings(models.TransientModel):
    """Monitoring: the Prometheus metrics token and the alert thresholds (system
    administrators only, as the whole Settings form)."""

    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    email_automation_metrics_token = fields.Char(
        string="Metrics Token",
        readonly=True,
        groups="base.group_system",
        help="What Prometheus sends to read /email_automation/metrics (bearer token or ?token=).",
    )
    email_automation_metrics_url = fields.Char(string="Metrics URL", compute="_compute_email_automation_metrics_url")
    email_automation_alert_queue_lag_minutes = fields.Integer(
        string="Queue Lag Alert (minutes)",
        config_parameter=PREFIX + "alert_queue_lag_minutes",
        default=ALERT_PARAMETERS["alert_queue_lag_minutes"][1],
        help="Alert when an e-mail due now has waited longer than this; 0: off.",
    )
    email_automation_alert_failure_rate = fields.Float(
        string="Failure Rate Alert (%)",
        config_parameter=PREFIX + "alert_failure_rate",
        default=ALERT_PARAMETERS["alert_failure_rate"][1],
        help="Alert when more of a scenario's e-mails than this fail in the window; 0: off.",
    )
    email_automation_alert_failure_window_minutes = fields.Integer(
        string="Failure Rate Window (minutes)",
        config_parameter=PREFIX + "alert_failure_window_minutes",
        default=ALERT_PARAMETERS["alert_failure_window_minutes"][1],
    )
    email_automation_alert_failure_min_count = fields.Integer(
        string="Failure Rate: Minimum E-mails",
        config_parameter=PREFIX + "alert_failure_min_count",
        default=ALERT_PARAMETERS["alert_failure_min_count"][1],
        help="Fewer e-mails processed in the window say nothing of a rate.",
    )
    email_automation_alert_bounce_rate = fields.Float(
        string="Bounce Rate Alert (%)",
        config_parameter=PREFIX + "alert_bounce_rate",
        default=ALERT_PARAMETERS["alert_bounce_rate"][1],
        help="Hard bounces over a provider's last sends; over it, its marketing scenarios are paused. 0: off.",
    )
    email_automation_alert_complaint_rate = fields.Float(
        string="Complaint Rate Alert (%)",
        config_parameter=PREFIX + "alert_complaint_rate",
        default=ALERT_PARAMETERS["alert_complaint_rate"][1],
        help="Spam complaints over a provider's last sends; over it, its marketing scenarios are paused. 0: off.",
    )
    email_automation_alert_rate_window = fields.Integer(
        string="Rates Over the Last E-mails",
        config_parameter=PREFIX + "alert_rate_window",
        default=ALERT_PARAMETERS["alert_rate_window"][1],
    )
    email_automation_alert_rate_min_sends = fields.Integer(
        string="Rates: Minimum E-mails",
        config_parameter=PREFIX + "alert_rate_min_sends",
        default=ALERT_PARAMETERS["alert_rate_min_sends"][1],
        help="A provider that sent fewer e-mails than this is not judged on its rates.",
    )

    def _compute_email_automation_metrics_url(self):
        for settings in self:
            settings.email_automation_metrics_url = settings.get_base_url() + "/email_automation/metrics"

    @api.model
    def get_values(self):
        res = super().get_values()
        if self.env.user.has_group("base.group_system"):
            res["email_automation_metrics_token"] = self.env["email.automation.metrics"]._token()
        return res

    def set_values(self):
        res = super().set_values()
        for name in ZERO_MEANS_OFF:
            field = self._fields[f"email_automation_{name}"]
            if not self[field.name]:
                # sudo: the Settings form is for system administrators; this is its own parameter.
                self.env["ir.config_parameter"].sudo().set_param(field.config_parameter, "0")
        return res

    @api.constrains(*(f"email_automation_{name}" for name in ALERT_PARAMETERS))
    def _check_email_automation_alerts(self):
        for settings in self:
            for name in ALERT_PARAMETERS:
                field = self._fields[f"email_automation_{name}"]
                if settings[field.name] < 0:
                    raise ValidationError(
                        self.env._(
                            "%(field)s: the value cannot be negative.", field=field._description_string(self.env)
                        )
                    )
            for name in ("alert_failure_rate", "alert_bounce_rate", "alert_complaint_rate"):
                if settings[f"email_automation_{name}"] > 100:
                    raise ValidationError(self.env._("A rate is a percentage: at most 100."))
            if settings.email_automation_alert_rate_window <= 0:
                raise ValidationError(self.env._("The rates need a window of at least one e-mail."))

    def action_email_automation_metrics_token(self):
        """Generate the metrics token (again): the former one stops working at once."""
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(self.env._("Only administrators manage the metrics token."))
        self.env["email.automation.metrics"]._regenerate_token()
        return {"type": "ir.actions.client", "tag": "reload"}
