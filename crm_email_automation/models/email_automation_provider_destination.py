import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..providers import get_client, hosts
from ..providers.common import AUTH, HOST_NOT_ALLOWED, TIMEOUT, TRANSIENT, UNEXPECTED, UNREACHABLE

_logger = logging.getLogger(__name__)

# The fields that decide where the key is sent, or which URL a webhook's signature covers.
DESTINATION_FIELDS = ("api_base_url", "webhook_url")


class EmailAutomationProvider(models.Model):
    """Where a provider's key may go, and the connection test.

    Only system administrators choose the destination (the fields are theirs, and a write
    or create by anyone else is refused, whatever the client: form, RPC, copy, context
    defaults). Only the provider's official hosts are accepted, unless a system parameter
    allows others; a move forgets the key; the key is checked again before each call, and
    redirects are not followed. The connection test reports a classified outcome, never
    what the server answered.
    """

    _inherit = "email.automation.provider"

    # ------------------------------------------------------------------
    # Who may move the key, and where to
    # ------------------------------------------------------------------

    def _check_destination_rights(self, field_names):
        if self.env.is_system():
            return
        touched = [name for name in DESTINATION_FIELDS if name in field_names]
        if touched:
            raise AccessError(
                self.env._(
                    "Only system administrators can change where a provider's key is sent (%(fields)s).",
                    fields=", ".join(self._fields[name]._description_string(self.env) for name in touched),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        # Context defaults become values too (default_api_base_url=...).
        defaults = [key.removeprefix("default_") for key in self.env.context if key.startswith("default_")]
        for vals in vals_list:
            self._check_destination_rights([*vals, *defaults])
        return super().create(vals_list)

    def write(self, vals):
        self._check_destination_rights(vals)
        # A new kind recomputes the base URL: it moves the key as much as a new URL does.
        moving = bool({"api_base_url", "kind"} & vals.keys()) and "api_key" not in vals
        # sudo: the base URL and the key are system-only fields; a manager may change the kind.
        before = {provider.id: provider.api_base_url for provider in self.sudo()} if moving else {}
        result = super().write(vals)
        if moving:
            moved = self.sudo().filtered(lambda p: p.api_key and p.api_base_url != before[p.id])
            if moved:
                moved.write({"api_key": False})
                for provider in moved:
                    provider.message_post(
                        body=self.env._(
                            "The API base URL changed: the API key was cleared. Enter the key for the new address."
                        )
                    )
        return result

    @api.model
    def _allowed_host_patterns(self):
        # sudo: a system parameter, read by whichever user sends or tests.
        value = self.env["ir.config_parameter"].sudo().get_param(hosts.ALLOWED_HOSTS_PARAM)
        return hosts.parse_host_list(value)

    def _destination_refused(self):
        """Why the key may not go to the API base URL (a `hosts` reason), else None."""
        self.ensure_one()
        if self.kind == "smtp":
            return None
        # sudo: a system-only field, read to decide whether to call.
        return hosts.check_url(self.sudo().api_base_url, self.kind, self._allowed_host_patterns())

    def _destination_message(self, reason):
        self.ensure_one()
        if reason == hosts.BAD_URL:
            return self.env._(
                "The API base URL must be an absolute http:// or https:// address, without a user name, "
                "query or fragment."
            )
        if reason == hosts.HTTPS_REQUIRED:
            return self.env._("The provider's official API is reached over https:// only.")
        url = self.sudo().api_base_url or ""
        return self.env._(
            "%(host)s is not an official host of this provider's API: the API key is not sent there. A system "
            "administrator can allow the host in the system parameter %(param)s (host names separated by commas).",
            host=hosts.url_host(url) or url,
            param=hosts.ALLOWED_HOSTS_PARAM,
        )

    @api.constrains("kind", "api_base_url")
    def _check_api_base_url(self):
        patterns = self._allowed_host_patterns()
        for provider in self.filtered(lambda p: p.kind != "smtp"):
            reason = hosts.check_url(provider.sudo().api_base_url, provider.kind, patterns)
            if reason:
                raise ValidationError(provider._destination_message(reason))

    # ------------------------------------------------------------------
    # API access
    # ------------------------------------------------------------------

    def _get_client(self):
        """The API client of this provider (None for SMTP), holding its key.

        Private: the client carries the secret and must never reach a user. When the base
        URL's host is not allowed (any more), the client sends nothing and the provider is
        paused, its managers told.
        """
        self.ensure_one()
        # sudo: the API key is readable by system administrators only, yet the queue (and a
        # manager's connection test) must use it; it never leaves this client.
        provider = self.sudo()
        refused = provider._destination_refused()
        if refused:
            provider._pause_for_destination(refused)
        return get_client(provider.kind, provider.api_base_url, provider.api_key, provider.timeout, refused=refused)

    def _pause_for_destination(self, reason):
        # sudo: the queue's user may not write providers; it only records why it stops.
        provider = self.sudo()
        if provider.state != "active":
            return
        message = provider._destination_message(reason)
        # The pause opens its alert, which tells the managers (email_automation_provider_alert.py).
        provider.write({"state": "paused", "pause_reason": message})
        _logger.warning("E-mail automation: provider %s paused, its API base URL is not an allowed host", self.id)

    def _describe_failure(self, outcome):
        """A failed call in the user's words: the provider's own message when it answered."""
        self.ensure_one()
        if outcome.error == TIMEOUT:
            return self.env._("No answer from the provider within %(seconds)s seconds.", seconds=self.timeout)
        if outcome.error == UNREACHABLE:
            return self.env._(
                "Cannot reach the provider at %(url)s (%(error)s).",
                url=self.sudo().api_base_url,
                error=outcome.detail,
            )
        if outcome.error == HOST_NOT_ALLOWED:
            return self._destination_message(self._destination_refused() or hosts.HOST_NOT_ALLOWED)
        if outcome.error == UNEXPECTED:
            return self.env._(
                "The server at the API base URL answered (HTTP %(status)s), but not as the provider's API does.",
                status=outcome.status,
            )
        return outcome.detail

    # ------------------------------------------------------------------
    # Connection test
    # ------------------------------------------------------------------

    def action_test_connection(self):
        """Call the provider and tell the user whether it answers and accepts the credentials."""
        self.ensure_one()
        if not self.env.user.has_group("crm_email_automation.group_manager"):
            raise AccessError(self.env._("Only e-mail automation managers can test providers."))
        success, message = self._test_connection()
        self.write({"last_test_at": fields.Datetime.now(), "last_test_result": message})
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Connection test succeeded") if success else self.env._("Connection test failed"),
                "message": message,
                "type": "success" if success else "danger",
                "sticky": not success,
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _test_connection(self):
        """(success, message in the user's words): the account name on success; on failure
        the class of the failure, the HTTP status and the provider's error code, never the
        body of the answer."""
        if self.kind == "smtp":
            return self._test_smtp_connection()
        refused = self._destination_refused()
        if refused:
            return False, self._destination_message(refused)
        outcome = self._get_client().test_connection()
        if outcome.accepted:
            if outcome.detail:
                return True, self.env._("Connected: %(account)s", account=outcome.detail)
            return True, self.env._("Connected.")
        if outcome.error:
            return False, self._describe_failure(outcome)
        answer = " ".join(part for part in (f"HTTP {outcome.status}", outcome.detail) if part)
        if outcome.kind == AUTH:
            return False, self.env._("The provider refused the credentials (%(answer)s).", answer=answer)
        if outcome.kind == TRANSIENT:
            return False, self.env._("The provider cannot answer now (%(answer)s). Try again later.", answer=answer)
        return False, self.env._("The provider refused the request (%(answer)s).", answer=answer)

    def _test_smtp_connection(self):
        # sudo: outgoing mail servers are configured by administrators; testing one is harmless.
        IrMailServer = self.env["ir.mail_server"].sudo()
        server = self.mail_server_id.sudo()
        if not server:
            servers = IrMailServer.search([("active", "=", True)], order="sequence")
            sender = self.env.company.email or IrMailServer._get_default_from_address() or ""
            server, _smtp_from = servers._find_mail_server(sender, mail_servers=servers)
        if not server:
            return False, self.env._("No outgoing mail server is configured.")
        try:
            server.test_smtp_connection()
        except UserError as error:
            return False, str(error)
        return True, self.env._("Connected to %(server)s.", server=server.name)
