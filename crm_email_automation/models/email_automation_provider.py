import logging

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

PROVIDER_KINDS = [
    ("smtp", "SMTP (Odoo outgoing mail server)"),
    ("brevo", "Brevo API"),
    ("mandrill", "Mailchimp Transactional (Mandrill) API"),
]
# The real endpoints; each provider may point elsewhere (a proxy, or a local server in tests).
DEFAULT_BASE_URLS = {
    "brevo": "https://api.brevo.com/v3",
    "mandrill": "https://mandrillapp.com/api/1.0",
}
# The public routes each kind's webhooks arrive on.
WEBHOOK_ROUTES = {
    "brevo": "/email_automation/webhook/brevo/%s",
    "mandrill": "/email_automation/webhook/mandrill/%s",
}
# Credentials and webhook secrets: read and written by system administrators only, never
# exported, never copied.
SECRET = {"groups": "base.group_system", "copy": False, "exportable": False}
# What decides where the key goes (and what a webhook's signature covers): set by system
# administrators only (see email_automation_provider_destination.py), never copied.
DESTINATION = {"groups": "base.group_system", "copy": False}
# What each kind's webhook reads of its provider: checked on every request, so cached.
WEBHOOK_FIELDS = {
    "brevo": ("webhook_token", "webhook_username", "webhook_password"),
    "mandrill": ("webhook_key", "webhook_url"),
}
# A write to any of these changes which requests a webhook accepts.
WEBHOOK_CACHE_FIELDS = {"active", "kind"}.union(*WEBHOOK_FIELDS.values())


class EmailAutomationProvider(models.Model):
    """How the e-mails of a scenario leave: an Odoo outgoing mail server, or a provider API."""

    _name = "email.automation.provider"
    _description = "E-mail Delivery Provider"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        "res.company", index=True, default=lambda self: self.env.company, help="Empty: shared by all companies."
    )
    kind = fields.Selection(PROVIDER_KINDS, required=True, default="smtp", tracking=True)
    is_default = fields.Boolean(
        string="Default", tracking=True, help="Used by the scenarios of its company that choose no provider."
    )
    state = fields.Selection(
        [("active", "Active"), ("paused", "Paused")],
        default="active",
        required=True,
        tracking=True,
        help="A paused provider sends nothing: its e-mails wait in the queue until it is resumed.",
    )
    pause_reason = fields.Text(readonly=True)

    # SMTP
    mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Outgoing Mail Server",
        help="Leave empty to let Odoo choose the server matching the sender address.",
    )

    # APIs
    api_base_url = fields.Char(
        string="API Base URL",
        compute="_compute_api_base_url",
        store=True,
        readonly=False,
        help="The provider's API endpoint, where the API key is sent. Only the provider's official hosts are "
        "accepted, unless a system administrator allows others (system parameter "
        "crm_email_automation.provider_allowed_hosts). Changing it clears the API key.",
        **DESTINATION,
    )
    api_key = fields.Char(string="API Key", **SECRET)
    timeout = fields.Integer(string="Timeout (seconds)", default=10)
    max_attempts = fields.Integer(
        string="Attempts", default=5, help="Deliveries tried before a temporary error fails the e-mail."
    )
    auth_failure_limit = fields.Integer(
        string="Authentication Failures Before Pausing",
        default=3,
        help="After this many authentication failures in a row the provider is paused and the managers alerted.",
    )
    auth_failure_count = fields.Integer(string="Authentication Failures in a Row", readonly=True, copy=False)
    track_opens = fields.Boolean(default=True, help="Ask the provider to track opens (Mandrill).")
    track_clicks = fields.Boolean(default=True, help="Ask the provider to track clicks (Mandrill).")
    last_test_at = fields.Datetime(string="Last Tested On", readonly=True, copy=False)
    last_test_result = fields.Text(readonly=True, copy=False)

    # Webhooks
    webhook_endpoint = fields.Char(
        string="Webhook URL",
        compute="_compute_webhook_endpoint",
        help="The address to give the provider for its delivery, open, click and bounce events.",
    )
    webhook_token = fields.Char(string="Webhook Bearer Token", **SECRET)
    webhook_username = fields.Char(**SECRET)
    webhook_password = fields.Char(**SECRET)
    webhook_key = fields.Char(help="Mandrill's key of this webhook, for its signature.", **SECRET)
    webhook_url = fields.Char(
        string="Webhook URL at the Provider",
        help="The URL exactly as configured at Mandrill: its signature covers it. Empty: the webhook URL above.",
        **DESTINATION,
    )

    scenario_ids = fields.One2many("email.automation.scenario", "provider_id")
    trace_ids = fields.One2many("email.automation.trace", "provider_id")

    _sql_constraints = [
        ("timeout_positive", "CHECK(timeout > 0)", "The timeout must be positive."),
        ("max_attempts_positive", "CHECK(max_attempts > 0)", "A provider tries each e-mail at least once."),
    ]

    @api.depends("kind")
    def _compute_api_base_url(self):
        for provider in self:
            provider.api_base_url = DEFAULT_BASE_URLS.get(provider.kind, False)

    @api.depends("kind")
    def _compute_webhook_endpoint(self):
        for provider in self:
            route = WEBHOOK_ROUTES.get(provider.kind)
            provider.webhook_endpoint = (
                provider.get_base_url() + route % provider.id if route and provider.id else False
            )

    @api.constrains("is_default", "company_id", "active")
    def _check_single_default(self):
        for provider in self.filtered(lambda p: p.is_default and p.active):
            others = self.search_count(
                [("is_default", "=", True), ("company_id", "=", provider.company_id.id), ("id", "!=", provider.id)]
            )
            if others:
                raise ValidationError(self.env._("Only one provider per company can be the default."))

    @api.model
    def _get_default(self, company):
        """The company's default provider, else a shared default; empty means Odoo's SMTP."""
        return self.search(
            [("is_default", "=", True), ("company_id", "in", [company.id, False])], order="company_id", limit=1
        )

    def _smtp_server(self, scenario):
        """The outgoing mail server an SMTP provider (or none) uses for `scenario`: its own,
        else the scenario's; empty lets Odoo choose by the sender address."""
        return self.mail_server_id or scenario.mail_server_id

    def _mandrill_signed_url(self):
        """The URL Mandrill signs: the one configured there (a proxy may change ours)."""
        self.ensure_one()
        return self.webhook_url or self.webhook_endpoint

    # ------------------------------------------------------------------
    # Webhook settings, cached
    # ------------------------------------------------------------------

    @api.model
    def _webhook_settings(self, provider_id, kind):
        """The webhook secrets of the active provider `provider_id` of that `kind`, as a
        {field: value} dict, or None if there is none. Cached per process: providers post
        an event per request, and this lookup was a query each time."""
        settings = self._webhook_settings_cached(provider_id, kind)
        return dict(settings) if settings is not None else None

    @api.model
    @tools.ormcache("provider_id", "kind")
    def _webhook_settings_cached(self, provider_id, kind):
        # Plain values only (an immutable tuple of pairs): the cache outlives the transaction.
        # sudo: the webhook routes are public; the secrets are system-only fields.
        provider = (
            self.sudo()
            .with_context(active_test=True)
            .search_fetch([("id", "=", provider_id), ("kind", "=", kind)], WEBHOOK_FIELDS[kind])
        )
        if not provider:
            return None
        return tuple((name, provider[name]) for name in WEBHOOK_FIELDS[kind])

    def _clear_webhook_cache(self):
        self.env.registry.clear_cache()
        # Again once committed: a concurrent request may have cached the old values meanwhile.
        self.env.cr.postcommit.add(self.env.registry.clear_cache)

    @api.model_create_multi
    def create(self, vals_list):
        providers = super().create(vals_list)
        # An id may have been cached as unknown before it existed.
        self._clear_webhook_cache()
        return providers

    def write(self, vals):
        result = super().write(vals)
        if WEBHOOK_CACHE_FIELDS.intersection(vals):
            self._clear_webhook_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self._clear_webhook_cache()
        return result

    # ------------------------------------------------------------------
    # Authentication failures: pause and alert once
    # ------------------------------------------------------------------

    def _register_success(self):
        """Any accepted e-mail proves the credentials: the failure run starts again."""
        # sudo: the queue's user may not write providers; only the counter changes.
        self.sudo().filtered("auth_failure_count").write({"auth_failure_count": 0})

    def _register_auth_failure(self, detail):
        """Count an authentication failure; at the limit, pause the provider and alert the
        managers, once (a paused provider is not called again until resumed)."""
        self.ensure_one()
        # sudo: the queue's user may not write providers; it only records what happened.
        provider = self.sudo()
        count = provider.auth_failure_count + 1
        if provider.state != "active" or count < provider.auth_failure_limit:
            provider.auth_failure_count = count
            return
        reason = self.env._(
            "Paused after %(count)s authentication failures in a row. The provider said: %(detail)s",
            count=count,
            detail=detail,
        )
        # The pause opens its alert, which tells the managers (email_automation_provider_alert.py).
        provider.write({"auth_failure_count": count, "state": "paused", "pause_reason": reason})
        _logger.warning("E-mail automation: provider %s paused after %s authentication failures", self.id, count)

    def action_pause(self):
        self.write({"state": "paused", "pause_reason": self.env._("Paused by %(user)s.", user=self.env.user.name)})
        # A value, so that XML-RPC clients can call it.
        return True

    def action_resume(self):
        self.write({"state": "active", "pause_reason": False, "auth_failure_count": 0})
        return True
