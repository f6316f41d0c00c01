import logging
import re
from datetime import timedelta
from urllib.parse import quote

from markupsafe import Markup, escape

from odoo import api, models, tools

_logger = logging.getLogger(__name__)

UNSUBSCRIBE_SCOPE = "crm_email_automation.unsubscribe"
# Test e-mails carry unsubscribe links signed for this scope: the unsubscribe routes and
# the mail gateway verify the real scope only, so such a link unsubscribes nobody.
TEST_UNSUBSCRIBE_SCOPE = "crm_email_automation.unsubscribe_test"
# Unsubscribe links keep working for well over a year after the e-mail.
UNSUBSCRIBE_VALIDITY_DAYS = 400
# The fields of a record that hold its contact's own address (a lead's, say).
CONTACT_EMAIL_FIELDS = ("email", "email_from", "email_normalized")
MASKED_FIELDS = ("subject", "body_html", "email_from", "reply_to")


class EmailAutomationMailSender(models.AbstractModel):
    """Unsubscribe links and headers; and test mode, whose e-mails go to the test
    address, show no address of the real contact and unsubscribe nobody."""

    _inherit = "email.automation.mail.sender"

    @api.model
    def _is_marketing(self, envelope):
        return envelope["trace"].scenario_id.category == "marketing"

    @api.model
    def _unsubscribe_token(self, trace):
        scope = TEST_UNSUBSCRIBE_SCOPE if self._test_address(trace) else UNSUBSCRIBE_SCOPE
        return tools.misc.hash_sign(
            self.env(su=True), scope, [trace.id], expiration=timedelta(days=UNSUBSCRIBE_VALIDITY_DAYS)
        )

    @api.model
    def _verify_unsubscribe_token(self, token):
        """The trace a valid, unexpired unsubscribe token was made for, else None."""
        try:
            # sudo: the signature key is the database secret.
            payload = tools.misc.verify_hash_signed(self.env(su=True), UNSUBSCRIBE_SCOPE, token)
        except (ValueError, TypeError, UnicodeError, IndexError):
            return None
        if not isinstance(payload, list) or len(payload) != 1 or not isinstance(payload[0], int):
            return None
        # sudo: the signed token is the recipient's credential; there is no user.
        trace = self.env["email.automation.trace"].sudo().browse(payload[0]).exists()
        # A test e-mail went to the test address, not to the trace's contact.
        if not trace or trace.is_test or (not trace.partner_id and not trace.email_to):
            return None
        return trace

    @api.model
    def _unsubscribe_trace(self, trace, source, ip_address=None, user_agent=None):
        """Unsubscribe the recipient of `trace` from marketing e-mail."""
        if trace.is_test:
            # Whoever unsubscribed read a test e-mail at the test address (a provider's own
            # link or complaint button, say): the real contact asked nothing.
            _logger.info("E-mail automation: unsubscribe from test e-mail %s ignored", trace.id)
            return
        partner = trace.partner_id
        emails = [tools.email_normalize(trace.email_to)] if trace.email_to else []
        if partner:
            partner._email_automation_unsubscribe(source, emails=emails, ip_address=ip_address, user_agent=user_agent)
        else:
            # sudo: an address without a contact is blacklisted for marketing all the same.
            for email in filter(None, emails):
                self.env["mail.blacklist"].sudo()._add(email)

    @api.model
    def _unsubscribe_url(self, trace):
        return f"{trace.scenario_id.get_base_url()}/email_automation/unsubscribe/{self._unsubscribe_token(trace)}"

    @api.model
    def _unsubscribe_mailto(self, trace):
        company = trace.scenario_id.company_id
        address = company.catchall_email or tools.email_normalize(company.email or "")
        if not address:
            return False
        # The token in the subject lets the mail gateway unsubscribe the right person.
        return f"mailto:{address}?subject=unsubscribe%20{self._unsubscribe_token(trace)}"

    @api.model
    def _render(self, envelopes):
        res = super()._render(envelopes)
        for envelope in envelopes:
            if envelope["is_test"]:
                self._mask_contact_emails(envelope)
            if not self._is_marketing(envelope) or envelope["trace"].state != "processing":
                continue
            url = self._unsubscribe_url(envelope["trace"])
            envelope["unsubscribe_url"] = url
            label = self.with_context(lang=envelope["lang"]).env._("Unsubscribe from these e-mails")
            footer = Markup(
                '<p style="font-size: 12px; color: #6c757d; margin-top: 24px;">'
                '<a href="%s" style="color: #6c757d;">%s</a></p>'
            ) % (url, label)
            envelope["body_html"] = Markup(envelope.get("body_html") or "") + footer
        return res

    @api.model
    def _prepare_headers(self, envelope):
        headers = super()._prepare_headers(envelope)
        if self._is_marketing(envelope):
            trace = envelope["trace"]
            url = envelope.get("unsubscribe_url") or self._unsubscribe_url(trace)
            mailto = self._unsubscribe_mailto(trace)
            headers["List-Unsubscribe"] = f"<{url}>, <{mailto}>" if mailto else f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return headers

    # ------------------------------------------------------------------
    # Test mode: no address of the real contact in the e-mail
    # ------------------------------------------------------------------

    @api.model
    def _contact_emails(self, envelope):
        """Every address of the real recipient that a template could print, longest first."""
        trace, record, partner = envelope["trace"], envelope["record"], envelope["partner"]
        raw = [trace.scenario_id._get_recipient_email(record, partner), partner.email, partner.email_normalized]
        raw += [
            record[name]
            for name in CONTACT_EMAIL_FIELDS
            if name in record._fields and record._fields[name].type == "char"
        ]
        emails = {email for value in raw if value for email in tools.email_split(value)}
        return sorted(emails, key=len, reverse=True)

    @api.model
    def _mask_contact_emails(self, envelope):
        """Replace the real contact's addresses by the test address wherever the template
        printed them: as text, HTML-escaped, or URL-encoded in a link."""
        test_email = envelope["email_to"]
        hidden_emails = self._contact_emails(envelope)
        for field in MASKED_FIELDS:
            value = envelope.get(field)
            if not value:
                continue
            is_html = field == "body_html"
            shown = str(escape(test_email)) if is_html else test_email
            masked = str(value)
            for email in hidden_emails:
                for hidden, replacement in (
                    (str(escape(email)), shown),
                    (email, shown),
                    (quote(email, safe=""), quote(test_email, safe="")),
                ):
                    masked = re.sub(re.escape(hidden), lambda _match, r=replacement: r, masked, flags=re.IGNORECASE)
            envelope[field] = Markup(masked) if is_html else masked
