from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .email_automation_queue_lanes import MAX_LANES

WEEKDAY_FIELDS = [f"email_automation_send_day_{day}" for day in range(7)]
# Integer settings whose 0 means something ("no cap", "kept forever"): Odoo's Settings drop
# a parameter set to 0, and its default would come back.
ZERO_MEANS_OFF = ("email_automation_frequency_cap_count", "email_automation_retention_months")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    email_automation_batch_size = fields.Integer(
        string="Queue Batch Size",
        config_parameter="crm_email_automation.batch_size",
        default=200,
        help="How many due steps one worker claims at a time.",
    )
    email_automation_max_attempts = fields.Integer(
        string="Delivery Attempts",
        config_parameter="crm_email_automation.max_attempts",
        default=5,
        help="How many times a temporary delivery error is retried before the step fails.",
    )
    email_automation_queue_lanes = fields.Integer(
        string="Queue Lanes",
        config_parameter="crm_email_automation.queue_lanes",
        default=1,
        help="How many scheduled actions process the queue at the same time. Odoo runs one job of a "
        "scheduled action at a time: with several cron workers (--max-cron-threads, on one server or "
        "several sharing the database), more lanes send more e-mails at once.",
    )
    email_automation_stale_claim_minutes = fields.Integer(
        string="Stale Claim Timeout (minutes)",
        config_parameter="crm_email_automation.stale_claim_minutes",
        default=30,
        help="Steps claimed by a worker that stopped answering return to the queue after this time.",
    )

    email_automation_consent_policy = fields.Selection(
        [("opt_in", "Explicit opt-in"), ("opt_out", "Opt-out (where the law allows it)")],
        string="Marketing Consent Policy",
        config_parameter="crm_email_automation.consent_policy",
        default="opt_in",
    )
    email_automation_frequency_cap_count = fields.Integer(
        string="Frequency Cap: E-mails",
        config_parameter="crm_email_automation.frequency_cap_count",
        default=3,
        help="At most this many marketing e-mails per contact per period; 0: no cap.",
    )
    email_automation_frequency_cap_days = fields.Integer(
        string="Frequency Cap: Days",
        config_parameter="crm_email_automation.frequency_cap_days",
        default=7,
    )
    email_automation_quiet_hours = fields.Boolean(
        string="Quiet Hours", config_parameter="crm_email_automation.quiet_hours"
    )
    email_automation_send_window_start = fields.Float(
        string="Send From", config_parameter="crm_email_automation.send_window_start", default=8.0
    )
    email_automation_send_window_end = fields.Float(
        string="Send Until", config_parameter="crm_email_automation.send_window_end", default=20.0
    )
    email_automation_send_day_0 = fields.Boolean(string="Monday")
    email_automation_send_day_1 = fields.Boolean(string="Tuesday")
    email_automation_send_day_2 = fields.Boolean(string="Wednesday")
    email_automation_send_day_3 = fields.Boolean(string="Thursday")
    email_automation_send_day_4 = fields.Boolean(string="Friday")
    email_automation_send_day_5 = fields.Boolean(string="Saturday")
    email_automation_send_day_6 = fields.Boolean(string="Sunday")
    email_automation_rate_limit_minute = fields.Integer(
        string="E-mails per Minute",
        config_parameter="crm_email_automation.rate_limit_minute",
        help="Per outgoing mail server; 0: no limit.",
    )
    email_automation_rate_limit_hour = fields.Integer(
        string="E-mails per Hour",
        config_parameter="crm_email_automation.rate_limit_hour",
        help="Per outgoing mail server; 0: no limit.",
    )
    email_automation_soft_bounce_limit = fields.Integer(
        string="Soft Bounces Before Suppression",
        config_parameter="crm_email_automation.soft_bounce_limit",
        default=3,
    )
    email_automation_doi_validity_hours = fields.Integer(
        string="Confirmation Link Validity (hours)",
        config_parameter="crm_email_automation.doi_validity_hours",
        default=72,
    )
    email_automation_retention_months = fields.Integer(
        string="Keep History (months)",
        config_parameter="crm_email_automation.retention_months",
        default=24,
        help="Finished steps and their events older than this are deleted; 0: kept forever.",
    )

    # The company's Mailchimp audience sync.
    email_automation_mailchimp_enabled = fields.Boolean(
        related="company_id.email_automation_mailchimp_enabled", readonly=False
    )
    email_automation_mailchimp_auth_method = fields.Selection(
        related="company_id.email_automation_mailchimp_auth_method", readonly=False
    )
    email_automation_mailchimp_oauth_client_id = fields.Char(
        related="company_id.email_automation_mailchimp_oauth_client_id", readonly=False, groups="base.group_system"
    )
    email_automation_mailchimp_oauth_client_secret = fields.Char(
        related="company_id.email_automation_mailchimp_oauth_client_secret", readonly=False, groups="base.group_system"
    )
    email_automation_mailchimp_oauth_account = fields.Char(
        related="company_id.email_automation_mailchimp_oauth_account"
    )
    email_automation_mailchimp_api_key = fields.Char(
        related="company_id.email_automation_mailchimp_api_key", readonly=False, groups="base.group_system"
    )
    email_automation_mailchimp_list_id = fields.Char(
        related="company_id.email_automation_mailchimp_list_id", readonly=False
    )
    email_automation_mailchimp_base_url = fields.Char(
        related="company_id.email_automation_mailchimp_base_url", readonly=False, groups="base.group_system"
    )
    email_automation_mailchimp_webhook_url = fields.Char(
        related="company_id.email_automation_mailchimp_webhook_url", groups="base.group_system"
    )
    email_automation_mailchimp_auth_failed = fields.Boolean(related="company_id.email_automation_mailchimp_auth_failed")
    email_automation_mailchimp_last_sync_at = fields.Datetime(
        related="company_id.email_automation_mailchimp_last_sync_at"
    )

    @api.model
    def get_values(self):
        res = super().get_values()
        days = self.env["ir.config_parameter"].sudo().get_param("crm_email_automation.send_days", "0123456")
        res.update({name: str(day) in days for day, name in enumerate(WEEKDAY_FIELDS)})
        return res

    def set_values(self):
        res = super().set_values()
        days = "".join(str(day) for day, name in enumerate(WEEKDAY_FIELDS) if self[name])
        self.env["ir.config_parameter"].sudo().set_param("crm_email_automation.send_days", days)
        for name in ZERO_MEANS_OFF:
            if not self[name]:
                self.env["ir.config_parameter"].sudo().set_param(self._fields[name].config_parameter, "0")
        self.env["email.automation.queue"]._sync_lanes(self.email_automation_queue_lanes)
        return res

    @api.constrains("email_automation_queue_lanes")
    def _check_queue_lanes(self):
        for settings in self:
            if not 1 <= settings.email_automation_queue_lanes <= MAX_LANES:
                raise ValidationError(self.env._("The queue runs in 1 to %(max)s lanes.", max=MAX_LANES))

    @api.constrains("email_automation_send_window_start", "email_automation_send_window_end")
    def _check_send_window(self):
        for settings in self:
            start, end = settings.email_automation_send_window_start, settings.email_automation_send_window_end
            if not 0 <= start < end <= 24:
                raise ValidationError(self.env._("The send window must start before it ends, within the day."))

    def action_email_automation_mailchimp_test(self):
        self.ensure_one()
        return self.company_id._email_automation_mailchimp_test()

    def action_email_automation_mailchimp_sync(self):
        self.ensure_one()
        return self.company_id._email_automation_mailchimp_sync_now()

    def action_email_automation_mailchimp_connect(self):
        self.ensure_one()
        return self.company_id._email_automation_mailchimp_oauth_start()

    def action_email_automation_mailchimp_members(self):
        self.ensure_one()
        action = "crm_email_automation.email_automation_audience_member_action"
        return self.env["ir.actions.actions"]._for_xml_id(action)

    def action_email_automation_providers(self):
        # The providers' action is declared after the settings view (manifest order).
        return self.env["ir.actions.actions"]._for_xml_id("crm_email_automation.email_automation_provider_action")
