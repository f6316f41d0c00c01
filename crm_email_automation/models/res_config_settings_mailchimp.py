from odoo import fields, models


# One concern per file: the audience sync settings live apart from the queue and policy ones.
class ResConfigSettings(models.TransientModel):
    """The company's Mailchimp audience sync, in the E-mail Automation settings."""

    _inherit = "res.config.settings"  # pylint: disable=consider-merging-classes-inherited

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
        related="company_id.email_automation_mailchimp_base_url", readonly=False
    )
    email_automation_mailchimp_webhook_url = fields.Char(
        related="company_id.email_automation_mailchimp_webhook_url", groups="base.group_system"
    )
    email_automation_mailchimp_auth_failed = fields.Boolean(related="company_id.email_automation_mailchimp_auth_failed")
    email_automation_mailchimp_last_sync_at = fields.Datetime(
        related="company_id.email_automation_mailchimp_last_sync_at"
    )

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
