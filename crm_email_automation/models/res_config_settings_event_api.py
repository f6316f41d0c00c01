from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

    email_automation_api_requests_per_minute = fields.Integer(
        string="Event API Requests per Minute",
        config_parameter="crm_email_automation.api_requests_per_minute",
        default=600,
        help="How many requests one API key may send to the event API per minute; more are "
        "answered 429 with Retry-After. A batch of up to 500 events is one request.",
    )
