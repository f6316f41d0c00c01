import logging

from odoo import http, tools
from odoo.http import request

from ..models.res_partner import DOI_SCOPE
from .request_limits import PAGE, PAGE_LIMIT, body_limit

_logger = logging.getLogger(__name__)


def _verify(scope, token):
    """The payload of a valid, unexpired token signed by this database, else None."""
    try:
        # sudo: the signature key is the database secret.
        payload = tools.misc.verify_hash_signed(request.env(su=True), scope, token)
    except (ValueError, TypeError, UnicodeError, IndexError):
        return None
    if not isinstance(payload, list) or not payload or not all(isinstance(v, (int, str)) for v in payload):
        return None
    return payload


class EmailAutomationController(http.Controller):
    """Public pages reached from the e-mails: unsubscribe and consent confirmation.

    No login, cookie or redirect is needed; a bad, tampered or expired link gets a clear
    page with a 4xx status, never a 500, and changes nothing.
    """

    def _client_info(self):
        http_request = request.httprequest
        return {
            "ip_address": http_request.remote_addr,
            "user_agent": (http_request.headers.get("User-Agent") or "")[:512],
        }

    def _render(self, template, values, lang=None, status=200):
        """Render the page in the recipient's language (not the visitor's cookie: the
        link may be opened on a shared or a fresh browser)."""
        # English is the source text: always available, even when not an active language.
        if lang and (lang == "en_US" or request.env["res.lang"]._lang_get(lang)):
            request.update_context(lang=lang)
        values = {"company": request.env.company, **values}
        html = request.env["ir.ui.view"]._render_template(template, values)
        return request.make_response(
            html,
            headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-store"),
                ("X-Robots-Tag", "noindex"),
            ],
            status=status,
        )

    def _invalid(self, lang=None):
        return self._render("crm_email_automation.page_invalid_link", {}, lang=lang, status=403)

    # ------------------------------------------------------------------
    # Unsubscribe (RFC 8058 one-click)
    # ------------------------------------------------------------------

    def _unsubscribe_trace(self, token):
        return request.env["email.automation.mail.sender"]._verify_unsubscribe_token(token)

    @http.route(
        "/email_automation/unsubscribe/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
        website=True,
        multilang=False,
    )
    def unsubscribe_page(self, token, **kwargs):
        """Only shows the confirmation: link scanners follow GETs."""
        trace = self._unsubscribe_trace(token)
        if not trace:
            return self._invalid(lang=request.env.lang)
        partner = trace.partner_id
        return self._render(
            "crm_email_automation.page_unsubscribe",
            {
                "token": token,
                "email": partner.email or trace.email_to,
                "already": partner.email_consent_state == "withdrawn",
            },
            lang=partner.lang,
        )

    @http.route(
        "/email_automation/unsubscribe/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,  # RFC 8058: mail clients POST without a session; the signed token is the proof.
        sitemap=False,
        website=True,
        multilang=False,
        **body_limit(PAGE_LIMIT, PAGE),
    )
    def unsubscribe(self, token, **kwargs):
        trace = self._unsubscribe_trace(token)
        if not trace:
            return self._invalid(lang=request.env.lang)
        partner = trace.partner_id
        request.env["email.automation.mail.sender"]._unsubscribe_trace(trace, "email_link", **self._client_info())
        _logger.info("E-mail automation: unsubscribe through trace %s", trace.id)
        return self._render(
            "crm_email_automation.page_unsubscribed",
            {"email": partner.email or trace.email_to},
            lang=partner.lang,
        )

    # ------------------------------------------------------------------
    # Double opt-in confirmation
    # ------------------------------------------------------------------

    def _consent_partner(self, token):
        """(partner, payload) of a valid, unused confirmation link, else (None, None)."""
        payload = _verify(DOI_SCOPE, token)
        if not payload or len(payload) != 4 or not isinstance(payload[0], int):
            return None, None
        # sudo: the signed token is the person's credential; the page has no user.
        partner = request.env["res.partner"].sudo().browse(payload[0]).exists()
        if not partner or not payload[1] or partner.email_consent_nonce != payload[1]:
            return None, None
        return partner, payload

    def _address_changed(self, lang=None):
        """The link was sent to an address the contact no longer has: a clear page, nothing changed."""
        return self._render("crm_email_automation.page_consent_address_changed", {}, lang=lang, status=409)

    @http.route(
        "/email_automation/consent/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
        website=True,
        multilang=False,
    )
    def consent_page(self, token, **kwargs):
        """Shows the wording and a button; the consent is given by the POST, not by a scanner."""
        partner, payload = self._consent_partner(token)
        if not partner:
            return self._invalid(lang=request.env.lang)
        if not partner._email_consent_link_address_ok(payload):
            return self._address_changed(lang=partner.lang)
        wording = request.env["email.automation.consent.wording"].sudo().browse(payload[2]).exists()
        lang = partner.lang
        return self._render(
            "crm_email_automation.page_consent_confirm",
            {
                "token": token,
                "email": partner.email,
                "wording": wording.with_context(lang=lang) if wording else wording,
            },
            lang=lang,
        )

    @http.route(
        "/email_automation/consent/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        sitemap=False,
        website=True,
        multilang=False,
        **body_limit(PAGE_LIMIT, PAGE),
    )
    def consent_confirm(self, token, **kwargs):
        partner, payload = self._consent_partner(token)
        if not partner:
            return self._invalid(lang=request.env.lang)
        if not partner._email_consent_link_address_ok(payload):
            return self._address_changed(lang=partner.lang)
        if not partner._email_consent_confirm(payload, **self._client_info()):
            return self._invalid(lang=request.env.lang)
        return self._render("crm_email_automation.page_consent_confirmed", {"email": partner.email}, lang=partner.lang)
