import logging

from odoo import api, models
from odoo.exceptions import AccessError, ValidationError

from ..providers import hosts
from ..providers.mailchimp import default_base_url

_logger = logging.getLogger(__name__)

BASE_URL = "email_automation_mailchimp_base_url"
# What the base URL's host receives with each call.
CREDENTIALS = ("email_automation_mailchimp_api_key", "email_automation_mailchimp_oauth_token")


# One concern per file: res_company.py holds the sync, this file where its credentials go.
# pylint: disable=consider-merging-classes-inherited
class ResCompany(models.Model):
    """Where the Mailchimp key or token may go: a Mailchimp data center, or a host a system
    administrator allowed; set by system administrators only; a move forgets the key and
    the token."""

    _inherit = "res.company"

    @api.depends("email_automation_mailchimp_api_key")
    def _compute_email_automation_mailchimp_base_url(self):
        """The key's data center; a base URL an administrator set to another allowed host
        (a proxy, a test server) stays when the key changes."""
        for company in self:
            current = company.email_automation_mailchimp_base_url
            if current and hosts.check_url(current, "mailchimp") == hosts.HOST_NOT_ALLOWED:
                continue
            company.email_automation_mailchimp_base_url = default_base_url(
                company.sudo().email_automation_mailchimp_api_key
            )

    def write(self, vals):
        if BASE_URL not in vals:
            return super().write(vals)
        if not self.env.is_system():
            raise AccessError(self.env._("Only system administrators can change where the Mailchimp key is sent."))
        if set(CREDENTIALS) & vals.keys():
            # New credentials for the new address: kept.
            return super().write(vals)
        before = {company.id: company.email_automation_mailchimp_base_url for company in self}
        result = super().write(vals)
        # sudo: the credentials are system-only fields; forgetting them is the point.
        moved = self.sudo().filtered(
            lambda c: c.email_automation_mailchimp_base_url != before[c.id] and any(c[name] for name in CREDENTIALS)
        )
        for company in moved:
            # The URL written again: clearing the key must not derive it anew.
            company.write({BASE_URL: company.email_automation_mailchimp_base_url, **dict.fromkeys(CREDENTIALS, False)})
            _logger.info("E-mail automation: Mailchimp base URL of company %s changed, credentials cleared", company.id)
        return result

    @api.model
    def _email_automation_allowed_hosts(self):
        # sudo: a system parameter, read by whichever user syncs or tests.
        value = self.env["ir.config_parameter"].sudo().get_param(hosts.ALLOWED_HOSTS_PARAM)
        return hosts.parse_host_list(value)

    def _email_automation_mailchimp_refused(self):
        """Why the credentials may not go to the base URL (a `hosts` reason), else None."""
        self.ensure_one()
        url = self.sudo().email_automation_mailchimp_base_url
        if not url:
            return None
        return hosts.check_url(url, "mailchimp", self._email_automation_allowed_hosts())

    def _email_automation_mailchimp_refusal_message(self):
        url = self.sudo().email_automation_mailchimp_base_url or ""
        return self.env._(
            "The Mailchimp API base URL %(url)s is not a Mailchimp API address (https://<data center>"
            ".api.mailchimp.com/3.0): the key is not sent there. A system administrator can allow its host in "
            "the system parameter %(param)s.",
            url=url,
            param=hosts.ALLOWED_HOSTS_PARAM,
        )

    @api.constrains(BASE_URL)
    def _check_email_automation_mailchimp_base_url(self):
        for company in self:
            if company._email_automation_mailchimp_refused():
                raise ValidationError(company._email_automation_mailchimp_refusal_message())

    def _email_automation_mailchimp_client(self):
        """No client, hence no call, for a base URL whose host is not allowed (any more)."""
        if self._email_automation_mailchimp_configured() and self._email_automation_mailchimp_refused():
            _logger.warning("E-mail automation: company %s's Mailchimp base URL is not an allowed host", self.id)
            return None
        return super()._email_automation_mailchimp_client()

    def _email_automation_mailchimp_test(self):
        self.ensure_one()
        if self._email_automation_mailchimp_refused():
            return self._email_automation_notification(self._email_automation_mailchimp_refusal_message(), "danger")
        return super()._email_automation_mailchimp_test()
