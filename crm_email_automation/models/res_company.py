import logging
import secrets

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from ..providers import hosts, mailchimp
from ..providers.mailchimp import MailchimpClient, MailchimpError, default_base_url

_logger = logging.getLogger(__name__)

MAILCHIMP_WEBHOOK_ROUTE = "/email_automation/webhook/mailchimp/%s"
MAILCHIMP_OAUTH_CALLBACK = "/email_automation/mailchimp/oauth/callback"
MAILCHIMP_OAUTH_SCOPE = "crm_email_automation.mailchimp_oauth"
# The real endpoints; system parameters may point elsewhere (a local server in tests).
MAILCHIMP_OAUTH_URLS = {
    "authorize": ("crm_email_automation.mailchimp_oauth_authorize_url", mailchimp.OAUTH_AUTHORIZE_URL),
    "token": ("crm_email_automation.mailchimp_oauth_token_url", mailchimp.OAUTH_TOKEN_URL),
    "metadata": ("crm_email_automation.mailchimp_oauth_metadata_url", mailchimp.OAUTH_METADATA_URL),
}
# Credentials: read and written by system administrators only, never exported, never copied.
SECRET = {"groups": "base.group_system", "copy": False, "exportable": False}


class ResCompany(models.Model):
    """Per-company Mailchimp audience that mirrors the e-mail marketing consent."""

    _inherit = "res.company"

    email_automation_mailchimp_enabled = fields.Boolean(string="Mailchimp Audience Sync")
    email_automation_mailchimp_auth_method = fields.Selection(
        [("api_key", "API key"), ("oauth", "Mailchimp login (OAuth2)")],
        string="Mailchimp Authentication",
        default="api_key",
        required=True,
    )
    email_automation_mailchimp_api_key = fields.Char(string="Mailchimp API Key", **SECRET)
    email_automation_mailchimp_oauth_client_id = fields.Char(
        string="Mailchimp App Client ID", help="Of the app registered in Mailchimp for this database.", **SECRET
    )
    email_automation_mailchimp_oauth_client_secret = fields.Char(string="Mailchimp App Client Secret", **SECRET)
    email_automation_mailchimp_oauth_token = fields.Char(string="Mailchimp Access Token", **SECRET)
    email_automation_mailchimp_oauth_account = fields.Char(
        string="Connected Mailchimp Account", readonly=True, copy=False
    )
    email_automation_mailchimp_list_id = fields.Char(string="Mailchimp Audience ID")
    email_automation_mailchimp_base_url = fields.Char(
        string="Mailchimp API Base URL",
        compute="_compute_email_automation_mailchimp_base_url",
        store=True,
        readonly=False,
        help="Derived from the API key's data center (…-us6). Change it only for a proxy or a test server.",
    )
    email_automation_mailchimp_webhook_secret = fields.Char(string="Mailchimp Webhook Secret", **SECRET)
    email_automation_mailchimp_webhook_url = fields.Char(
        string="Mailchimp Webhook URL",
        compute="_compute_email_automation_mailchimp_webhook_url",
        groups="base.group_system",
        help="Give this address to the audience's webhook in Mailchimp (unsubscribes, cleaned addresses).",
    )
    email_automation_mailchimp_auth_failed = fields.Boolean(
        string="Mailchimp Refused the Key",
        readonly=True,
        copy=False,
        help="Set when Mailchimp refuses the credentials: the sync stops and the managers are alerted once.",
    )
    email_automation_mailchimp_last_sync_at = fields.Datetime(string="Mailchimp Last Sync", readonly=True, copy=False)

    @api.depends("email_automation_mailchimp_api_key")
    def _compute_email_automation_mailchimp_base_url(self):
        for company in self:
            company.email_automation_mailchimp_base_url = default_base_url(
                company.sudo().email_automation_mailchimp_api_key
            )

    @api.depends("email_automation_mailchimp_webhook_secret")
    def _compute_email_automation_mailchimp_webhook_url(self):
        for company in self:
            secret = company.sudo().email_automation_mailchimp_webhook_secret
            company.email_automation_mailchimp_webhook_url = (
                company.get_base_url() + MAILCHIMP_WEBHOOK_ROUTE % secret if secret else False
            )

    @api.model_create_multi
    def create(self, vals_list):
        companies = super().create(vals_list)
        companies.filtered("email_automation_mailchimp_enabled")._email_automation_mailchimp_ensure_secret()
        return companies

    def write(self, vals):
        if {"email_automation_mailchimp_api_key", "email_automation_mailchimp_oauth_token"} & set(vals):
            # A new key deserves a new try, and a new alert if it is refused too.
            vals = {**vals, "email_automation_mailchimp_auth_failed": False}
        res = super().write(vals)
        if vals.get("email_automation_mailchimp_enabled"):
            self._email_automation_mailchimp_ensure_secret()
        return res

    # ------------------------------------------------------------------
    # Private helpers
    # ------------------------------------------------------------------

    def _email_automation_mailchimp_ensure_secret(self):
        """Each company gets its own unguessable webhook secret the first time it syncs."""
        # sudo: the secret is a system-only field; enabling the sync needs it.
        for company in self.sudo().filtered(lambda c: not c.email_automation_mailchimp_webhook_secret):
            company.email_automation_mailchimp_webhook_secret = secrets.token_urlsafe(32)

    def _email_automation_mailchimp_configured(self):
        self.ensure_one()
        # sudo: the key is a system-only field; only whether it is set is read here.
        company = self.sudo()
        return bool(
            company._email_automation_mailchimp_secret()
            and company.email_automation_mailchimp_base_url
            and company.email_automation_mailchimp_list_id
        )

    def _email_automation_mailchimp_secret(self):
        """The credential of the chosen authentication: the API key or the OAuth2 token."""
        # sudo: both are system-only fields, read only to call Mailchimp.
        company = self.sudo()
        if company.email_automation_mailchimp_auth_method == "oauth":
            return company.email_automation_mailchimp_oauth_token
        return company.email_automation_mailchimp_api_key

    def _email_automation_mailchimp_client(self):
        """A client for this company's audience, or None when it is not configured."""
        if not self._email_automation_mailchimp_configured():
            return None
        return MailchimpClient(
            self.sudo().email_automation_mailchimp_base_url,
            self._email_automation_mailchimp_secret(),
            timeout=self._email_automation_mailchimp_timeout(),
            oauth=self.email_automation_mailchimp_auth_method == "oauth",
        )

    @api.model
    def _email_automation_mailchimp_timeout(self):
        return float(self.env["ir.config_parameter"].sudo().get_param("crm_email_automation.mailchimp_timeout", 10))

    @api.model
    def _email_automation_is_neutralized(self):
        return bool(self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized"))

    def _email_automation_mailchimp_auth_failure(self, message):
        """Stop syncing and tell the managers, once per refused key (not once per contact)."""
        self.ensure_one()
        # sudo: the cron or a webhook may find out; the flag and the alert are the company's.
        company = self.sudo()
        if company.email_automation_mailchimp_auth_failed:
            return
        company.email_automation_mailchimp_auth_failed = True
        _logger.warning("E-mail automation: Mailchimp refused the credentials of company %s", company.id)
        managers = (
            self.env.ref("crm_email_automation.group_manager")
            .sudo()
            .users.filtered(lambda u: u.active and not u.share and company in u.company_ids)
        )
        note = Markup("<p>%s</p><p>%s</p>") % (
            self.env._(
                "Mailchimp refused the API key of %(company)s: the audience sync is stopped until the key "
                "is fixed in the E-mail Automation settings.",
                company=company.name,
            ),
            message,
        )
        for user in managers:
            company.partner_id.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Mailchimp audience sync stopped"),
                note=note,
                user_id=user.id,
            )

    # ------------------------------------------------------------------
    # Buttons (called from the settings)
    # ------------------------------------------------------------------

    def _email_automation_notification(self, message, kind="success"):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": kind, "message": message, "sticky": kind != "success"},
        }

    def _email_automation_mailchimp_test(self):
        """Ping Mailchimp and read the audience; a notification says what happened."""
        self.ensure_one()
        if self._email_automation_is_neutralized():
            return self._email_automation_notification(
                self.env._("This database is neutralized: Mailchimp is not called."), "warning"
            )
        client = self._email_automation_mailchimp_client()
        if not client:
            return self._email_automation_notification(
                self.env._("Fill in the API key, the API base URL and the audience ID first."), "warning"
            )
        with client:
            try:
                client.ping()
                audience = client.get_list(self.email_automation_mailchimp_list_id)
            except MailchimpError as error:
                if error.kind == "auth":
                    self._email_automation_mailchimp_auth_failure(error.message)
                return self._email_automation_notification(
                    self.env._("Mailchimp answered: %(message)s", message=error.message), "danger"
                )
        # sudo: the flag is readonly for users; a working key clears it.
        self.sudo().email_automation_mailchimp_auth_failed = False
        return self._email_automation_notification(
            self.env._(
                "Connection to Mailchimp works: audience “%(name)s”.",
                name=audience.get("name") or self.email_automation_mailchimp_list_id,
            )
        )

    def _email_automation_mailchimp_sync_now(self):
        self.ensure_one()
        if self._email_automation_is_neutralized():
            return self._email_automation_notification(
                self.env._("This database is neutralized: Mailchimp is not called."), "warning"
            )
        if not self._email_automation_mailchimp_configured():
            return self._email_automation_notification(
                self.env._("Fill in the API key, the API base URL and the audience ID first."), "warning"
            )
        result = self.env["email.automation.audience.member"]._sync_company(self)
        if result.get("error"):
            return self._email_automation_notification(result["error"], "danger")
        return self._email_automation_notification(
            self.env._(
                "Mailchimp audience sync: %(pushed)s contact(s) updated, %(failed)s error(s), %(left)s left "
                "for the next run.",
                pushed=result["pushed"],
                failed=result["failed"],
                left=result["left"],
            ),
            "warning" if result["failed"] else "success",
        )

    # ------------------------------------------------------------------
    # OAuth2 connection ("Connect with Mailchimp")
    # ------------------------------------------------------------------

    @api.model
    def _email_automation_mailchimp_oauth_url(self, name):
        param, default = MAILCHIMP_OAUTH_URLS[name]
        return self.env["ir.config_parameter"].sudo().get_param(param) or default

    def _email_automation_mailchimp_oauth_redirect_uri(self):
        return self.get_base_url() + MAILCHIMP_OAUTH_CALLBACK

    def _email_automation_mailchimp_oauth_start(self):
        """Send the administrator to Mailchimp; the signed state brings the answer back to
        this company and this user only, within the hour."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(self.env._("Only administrators can connect Mailchimp."))
        if self._email_automation_is_neutralized():
            raise UserError(self.env._("This database is neutralized: Mailchimp is not called."))
        client_id = self.sudo().email_automation_mailchimp_oauth_client_id
        if not client_id or not self.sudo().email_automation_mailchimp_oauth_client_secret:
            raise UserError(self.env._("Fill in the client ID and secret of your Mailchimp app first."))
        state = tools.misc.hash_sign(
            self.env(su=True), MAILCHIMP_OAUTH_SCOPE, [self.id, self.env.uid], expiration_hours=1
        )
        return {
            "type": "ir.actions.act_url",
            "url": mailchimp.oauth_authorize_url(
                self._email_automation_mailchimp_oauth_url("authorize"),
                client_id,
                self._email_automation_mailchimp_oauth_redirect_uri(),
                state,
            ),
            "target": "self",
        }

    @api.model
    def _email_automation_mailchimp_oauth_company(self, state):
        """The company a callback's state was signed for, if signed for the current user."""
        try:
            # sudo: the signature key is the database secret.
            payload = tools.misc.verify_hash_signed(self.env(su=True), MAILCHIMP_OAUTH_SCOPE, state)
        except (ValueError, TypeError, UnicodeError, IndexError):
            payload = None
        if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(v, int) for v in payload)):
            return self.browse()
        company_id, uid = payload
        if uid != self.env.uid:
            return self.browse()
        return self.browse(company_id).exists()

    def _email_automation_mailchimp_oauth_finish(self, code):
        """Exchange the code for a token, find the account's data center, store both.
        Raises MailchimpError (nothing stored) when Mailchimp refuses."""
        self.ensure_one()
        # sudo: the app credentials and the token are system-only fields.
        company = self.sudo()
        timeout = self._email_automation_mailchimp_timeout()
        token = mailchimp.oauth_exchange_code(
            self._email_automation_mailchimp_oauth_url("token"),
            company.email_automation_mailchimp_oauth_client_id,
            company.email_automation_mailchimp_oauth_client_secret,
            self._email_automation_mailchimp_oauth_redirect_uri(),
            code,
            timeout=timeout,
        )
        metadata = mailchimp.oauth_metadata(self._email_automation_mailchimp_oauth_url("metadata"), token, timeout)
        endpoint = metadata.get("api_endpoint")
        base_url = f"{endpoint.rstrip('/')}/3.0" if isinstance(endpoint, str) else ""
        if hosts.check_url(base_url, "mailchimp", self._email_automation_allowed_hosts()):
            # Only a Mailchimp data center (or an allowed host) receives the token.
            base_url = f"https://{metadata['dc']}.api.mailchimp.com/3.0"
        # One write: a base URL written apart would clear the token (see res_company_mailchimp_destination.py).
        company.write(
            {
                "email_automation_mailchimp_auth_method": "oauth",
                "email_automation_mailchimp_oauth_token": token,
                "email_automation_mailchimp_oauth_account": str(metadata.get("accountname") or metadata["dc"])[:100],
                "email_automation_mailchimp_base_url": base_url,
            }
        )
        _logger.info("E-mail automation: company %s connected to Mailchimp with OAuth2", company.id)
