import logging
import secrets

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from ..models.email_automation_provider import WEBHOOK_FIELDS, WEBHOOK_ROUTES
from ..providers import brevo_webhook, mandrill_webhook
from ..providers.webhook_events import WebhookError
from .request_limits import body_limit

_logger = logging.getLogger(__name__)

ROUTE_OPTIONS = {"type": "http", "auth": "public", "csrf": False, "save_session": False, "sitemap": False}


class EmailAutomationWebhooks(http.Controller):
    """Public routes the providers post their tracking events to.

    Every request is checked whole (method, provider, credentials or signature, size,
    syntax, types) before anything is written; a refusal is a 4xx with a short JSON
    reason, never a 500, and writes nothing. Answers never echo secrets or payloads.
    """

    @http.route(WEBHOOK_ROUTES["brevo"] % "<int:provider_id>", **ROUTE_OPTIONS, **body_limit(brevo_webhook.MAX_BODY))
    def brevo_webhook(self, provider_id, **_fields):
        try:
            self._check_method("POST")
            provider, settings = self._provider("brevo", provider_id)
            brevo_webhook.check_auth(
                request.httprequest.headers.get("Authorization"),
                token=settings["webhook_token"],
                username=settings["webhook_username"],
                password=settings["webhook_password"],
            )
            if request.httprequest.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                raise WebhookError("expected JSON (application/json)", status=415)
            events = brevo_webhook.parse(self._read_body(brevo_webhook.MAX_BODY))
        except WebhookError as error:
            return self._refuse(error)
        return self._ingest(provider, events)

    @http.route(
        WEBHOOK_ROUTES["mandrill"] % "<int:provider_id>", **ROUTE_OPTIONS, **body_limit(mandrill_webhook.MAX_BODY)
    )
    def mandrill_webhook(self, provider_id, **_fields):
        http_request = request.httprequest
        try:
            if http_request.method == "HEAD":
                # Mandrill checks the URL answers before it creates the webhook. Any id
                # answers: which ones exist is nobody's business.
                return request.make_response("", status=200)
            self._check_method("POST", "HEAD")
            provider, settings = self._provider("mandrill", provider_id)
            self._check_length(mandrill_webhook.MAX_BODY)
            if http_request.mimetype != "application/x-www-form-urlencoded":
                raise WebhookError("expected a form (application/x-www-form-urlencoded)", status=415)
            fields = list(http_request.form.items(multi=True))
            if fields == [("mandrill_events", "[]")]:
                # Mandrill's test post on creating the webhook, signed with a key we cannot
                # know yet: acknowledged, it writes nothing.
                return self._answer({"status": "ok", "received": 0})
            mandrill_webhook.check_signature(
                http_request.headers.get("X-Mandrill-Signature"),
                settings["webhook_key"],
                provider._mandrill_signed_url() if provider else settings["webhook_url"],
                fields,
            )
            events = mandrill_webhook.parse(fields)
        except WebhookError as error:
            return self._refuse(error)
        return self._ingest(provider, events)

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def _provider(self, kind, provider_id):
        """The active provider of that kind, as superuser (the caller is anonymous and the
        webhook secrets are system-only fields), and its webhook settings (cached, see
        `_webhook_settings`).

        An unknown id gets no provider and secrets nobody knows, drawn anew: its requests
        go through the same checks and fail them with the same answers as wrong
        credentials do, so that nobody learns which ids exist.
        """
        # sudo: the route is public; it only reads the provider's webhook settings.
        Provider = request.env["email.automation.provider"].sudo()
        settings = Provider._webhook_settings(provider_id, kind)
        if settings is None:
            return Provider, {name: secrets.token_urlsafe(32) for name in WEBHOOK_FIELDS[kind]}
        if not any(settings.values()):
            _logger.info("Webhook of provider %s: no credentials configured, every request is refused", provider_id)
        return Provider.browse(provider_id), settings

    def _check_method(self, *allowed):
        if request.httprequest.method not in allowed:
            error = WebhookError("method not allowed", status=405)
            error.allow = ", ".join(allowed)
            raise error

    def _check_length(self, limit):
        length = request.httprequest.content_length
        if length is not None and length > limit:
            raise WebhookError("request body too large", status=413)

    def _read_body(self, limit):
        self._check_length(limit)
        # A chunked body has no length: werkzeug stops reading past the limit.
        request.httprequest.max_content_length = limit
        try:
            body = request.httprequest.get_data(cache=False)
        except RequestEntityTooLarge:
            raise WebhookError("request body too large", status=413) from None
        if len(body) > limit:
            raise WebhookError("request body too large", status=413)
        return body

    def _ingest(self, provider, events):
        # Every refusal happens above, before any write. The validated events wait in the
        # intake, one row for the request, and a cron job woken at commit records them
        # (matching, deduplication, effects) moments later, in batches.
        if events:
            # sudo: the route is public; the provider's credentials were checked above.
            request.env["email.automation.intake"].sudo()._receive("webhook", provider_id=provider.id, events=events)
        return self._answer({"status": "ok", "received": len(events)})

    def _answer(self, data, status=200):
        return request.make_json_response(data, headers=[("Cache-Control", "no-store")], status=status)

    def _refuse(self, error):
        # The reason is one of the parsers' fixed sentences: no secret, no personal data.
        _logger.info("Webhook %s refused (%s): %s", request.httprequest.path, error.status, error)
        response = self._answer({"error": str(error)}, status=error.status)
        if getattr(error, "allow", None):
            response.headers["Allow"] = error.allow
        return response
