import logging

from odoo import http
from odoo.http import request

from ..models.res_company import MAILCHIMP_OAUTH_CALLBACK
from ..providers.mailchimp import MailchimpError

_logger = logging.getLogger(__name__)
SETTINGS_URL = "/odoo/action-crm_email_automation.email_automation_settings_action"


class MailchimpOAuthController(http.Controller):
    """Where Mailchimp sends the administrator back after "Connect with Mailchimp"."""

    @http.route(MAILCHIMP_OAUTH_CALLBACK, type="http", auth="user", methods=["GET"], sitemap=False)
    def mailchimp_oauth_callback(self, code=None, state=None, error=None, **kwargs):
        if not request.env.user.has_group("base.group_system"):
            return self._error(403, "administrators only")
        company = request.env["res.company"]._email_automation_mailchimp_oauth_company(state or "")
        if not company:
            return self._error(400, "invalid or expired state")
        if error or not code:
            # The administrator declined at Mailchimp, or Mailchimp sent no code.
            return self._error(400, "access not granted")
        try:
            company._email_automation_mailchimp_oauth_finish(code)
        except MailchimpError as failure:
            _logger.info("E-mail automation: Mailchimp OAuth2 refused for company %s: %s", company.id, failure.message)
            return self._error(502 if failure.is_transient else 400, failure.message)
        return request.redirect(SETTINGS_URL, code=303, local=True)

    def _error(self, status, reason):
        return request.make_json_response({"error": reason}, status=status)
