import hmac
import logging
import re

from odoo import http, tools
from odoo.http import request

from ..models.res_company import MAILCHIMP_WEBHOOK_ROUTE
from .request_limits import body_limit

_logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# Mailchimp's audience webhook types; only these two change anything here.
WITHDRAWING_TYPES = {"unsubscribe", "cleaned"}
IGNORED_TYPES = {"subscribe", "profile", "upemail", "campaign"}
ROUTE_PREFIX = MAILCHIMP_WEBHOOK_ROUTE.removesuffix("%s")
SECRET_IN_PATH = re.compile(re.escape(ROUTE_PREFIX) + r"[^\s/?\"]+")


class _RedactWebhookSecret(logging.Filter):
    """The webhook secret travels in the URL (Mailchimp signs nothing): keep it out of the
    HTTP server's access log."""

    def filter(self, record):
        if isinstance(record.args, tuple) and any(isinstance(arg, str) and ROUTE_PREFIX in arg for arg in record.args):
            record.args = tuple(
                SECRET_IN_PATH.sub(ROUTE_PREFIX + "***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


logging.getLogger("werkzeug").addFilter(_RedactWebhookSecret())


class BadRequest(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class MailchimpWebhookController(http.Controller):
    """Mailchimp audience webhook: unsubscribes and cleaned addresses withdraw consent.

    Unsigned by Mailchimp, so the URL carries a per-company secret, compared in constant
    time. Bad input gets a 4xx with a short JSON reason and changes nothing.
    """

    @http.route(
        MAILCHIMP_WEBHOOK_ROUTE % "<string:secret>",
        type="http",
        auth="public",
        csrf=False,  # Mailchimp posts without a session; the secret in the URL is the proof.
        save_session=False,
        sitemap=False,
        **body_limit(MAX_BODY),
    )
    def mailchimp_webhook(self, secret, **kwargs):
        try:
            return self._handle(secret)
        except BadRequest as error:
            return request.make_json_response({"error": error.reason}, status=error.status)

    def _handle(self, secret):
        method = request.httprequest.method
        if method not in ("GET", "HEAD", "POST"):
            raise BadRequest(405, "method not allowed")
        company = self._company(secret)
        if method in ("GET", "HEAD"):
            # Mailchimp checks the URL with a GET before saving the webhook.
            return request.make_json_response({"status": "ok"})
        form = self._form()
        event_type = self._field(form, "type")
        if event_type in IGNORED_TYPES:
            return request.make_json_response({"status": "ignored", "type": event_type})
        if event_type not in WITHDRAWING_TYPES:
            raise BadRequest(400, "unknown type")
        email = tools.email_normalize(self._field(form, "data[email]"))
        if not email:
            raise BadRequest(400, "invalid data[email]")
        # sudo: the audience id is compared with the configured one; nothing else is read.
        if self._field(form, "data[list_id]") != company.sudo().email_automation_mailchimp_list_id:
            raise BadRequest(400, "unknown data[list_id]")
        reason = self._field(form, "data[reason]", required=False)[:100]
        if not self._is_member(company, email):
            # The audience speaks for its members only: an address this company never
            # pushed there (a contact sharing the audience's address book elsewhere, or a
            # forged event) is not withdrawn nor suppressed on its word.
            return request.make_json_response({"status": "ignored", "reason": "not an audience member"})
        partners = request.env["email.automation.audience.member"]._mailchimp_webhook(
            company, event_type, email, reason=reason
        )
        if not partners:
            return request.make_json_response({"status": "ignored", "reason": "unknown address"})
        _logger.info(
            "E-mail automation: Mailchimp %s for %s contact(s) of company %s", event_type, len(partners), company.id
        )
        return request.make_json_response({"status": "ok", "contacts": len(partners)})

    def _company(self, secret):
        """The company whose webhook secret this is; constant-time compared with each one."""
        # sudo: the secrets are system-only fields; the route has no user.
        field = "email_automation_mailchimp_webhook_secret"
        companies = request.env["res.company"].sudo().search_fetch([(field, "!=", False)], [field])
        found = request.env["res.company"]
        given = (secret or "").encode()
        for company in companies:
            if hmac.compare_digest(company[field].encode(), given):
                found = company
        if not found:
            raise BadRequest(403, "invalid secret")
        return found

    def _is_member(self, company, email):
        # sudo: the sync's bookkeeping of what the audience holds; the route has no user.
        Member = request.env["email.automation.audience.member"].sudo()
        return bool(Member.search_count([("company_id", "=", company.id), ("email", "=", email)], limit=1))

    def _form(self):
        http_request = request.httprequest
        if (http_request.content_length or 0) > MAX_BODY:
            raise BadRequest(413, "body too large")
        if http_request.mimetype != "application/x-www-form-urlencoded":
            raise BadRequest(415, "form-encoded body expected")
        return http_request.form

    def _field(self, form, name, required=True):
        values = form.getlist(name)
        if len(values) > 1:
            raise BadRequest(400, f"repeated {name}")
        if not values or not values[0].strip():
            if required:
                raise BadRequest(400, f"missing {name}")
            return ""
        return values[0].strip()
