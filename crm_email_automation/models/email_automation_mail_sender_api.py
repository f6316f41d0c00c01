"""Sending through a provider's API (Brevo, Mandrill): one request per e-mail, committed
as soon as the provider accepted it; failures classified, the untried rest put back."""

import logging
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..providers.common import ACCEPTED, AUTH, PERMANENT, TRANSIENT, Outcome, OutgoingEmail
from .email_automation_mail_sender import PAUSED_RETRY, TRANSIENT_PAUSE

_logger = logging.getLogger(__name__)


class EmailAutomationMailSender(models.AbstractModel):
    _inherit = "email.automation.mail.sender"  # pylint: disable=consider-merging-classes-inherited

    # API calls go one e-mail per request. Brevo's `messageVersions` and Mandrill's multiple
    # recipients would batch, but both share one set of headers per request, while each of
    # our e-mails carries its own unsubscribe token, trace id and Brevo `idempotencyKey`; and
    # an answer per e-mail is what lets each be marked sent (and committed) the moment it is
    # accepted. The keep-alive session makes a request cost little more than the e-mail.

    @api.model
    def _send_with_provider(self, provider, envelopes, auto_commit):
        """Send `envelopes` through the API of `provider`, committing after each accepted
        e-mail (in the cron) so that a crash never sends it again.

        A 429 or a provider error stops the batch: the failed e-mail is retried with
        backoff, the untried rest goes back to the queue without losing an attempt. An
        authentication failure fails its e-mail, puts the rest back and counts towards
        pausing the provider.
        """
        Trace = self.env["email.automation.trace"]
        if self._is_neutralized():
            # The one guard of the API path: a copy of production never calls a provider.
            self._wait_for_provider(envelopes, self.env._("Neutralized database: no e-mail is sent."))
            return
        if provider.state != "active":
            self._wait_for_provider(envelopes, provider.pause_reason)
            return
        client = provider._get_client()
        outgoing, failures = [], []
        # Everything is read and built before the first commit empties the ORM cache.
        for envelope in envelopes:
            try:
                outgoing.append((envelope, self._outgoing_email(provider, envelope)))
            except Exception as error:  # noqa: BLE001 - an e-mail that cannot be built fails alone
                failures.append((envelope, Outcome(PERMANENT, detail=str(error))))
        untried, stopped_by, accepted, paused = [], None, 0, []
        for index, (envelope, email) in enumerate(outgoing):
            if auto_commit and index and self._paused_meanwhile(provider.id):
                # Paused by hand or by another lane since this batch began: the rest waits.
                paused = [rest for rest, _email in outgoing[index:]]
                break
            outcome = client.send(email)
            if outcome.kind == ACCEPTED:
                envelope["provider_message_id"] = outcome.message_id or False
                self._mark_sent(envelope)
                accepted += 1
                if auto_commit:
                    # The provider took it: make it known before the next one, so that a
                    # crash now cannot send it again.
                    self.env.cr.commit()  # pylint: disable=invalid-commit
                continue
            failures.append((envelope, outcome))
            if outcome.kind in (AUTH, TRANSIENT):
                # Do not hammer a provider that refuses our key or asks us to slow down.
                untried = [rest for rest, _email in outgoing[index + 1 :]]
                stopped_by = outcome
                break
        Trace.invalidate_model()
        if accepted:
            provider._register_success()
        self._record_failures(provider, failures)
        if untried:
            self._put_back(provider, untried, stopped_by)
        if paused:
            self._wait_for_provider(paused, provider.pause_reason)

    @api.model
    def _paused_meanwhile(self, provider_id):
        """Whether the provider was paused since the batch began (one query: the lanes'
        transactions commit after each e-mail, so a pause made in one is seen by the next
        e-mail of the others)."""
        self.env.cr.execute(SQL("SELECT state != 'active' FROM email_automation_provider WHERE id = %s", provider_id))
        row = self.env.cr.fetchone()
        return bool(row and row[0])

    @api.model
    def _is_neutralized(self):
        # sudo: a system parameter, read by whichever user runs the queue.
        return bool(self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized"))

    @api.model
    def _record_failures(self, provider, failures):
        for envelope, outcome in failures:
            trace = envelope["trace"]
            detail = provider._describe_failure(outcome)
            if outcome.kind == TRANSIENT:
                trace._retry_later(
                    "provider_transient", detail, provider.max_attempts, min_delay_seconds=outcome.retry_after
                )
            elif outcome.kind == AUTH:
                trace._finish("failed", "provider_auth", detail)
                provider._register_auth_failure(detail)
            else:
                trace._finish("failed", "provider_permanent", detail)
            # Without the key: the clients never put it in `detail`.
            _logger.info("E-mail automation: trace %s not sent (%s): %s", trace.id, outcome.kind, outcome.detail)

    @api.model
    def _put_back(self, provider, envelopes, outcome):
        """Return untried e-mails to the queue, no attempt charged, until the provider
        may take them again."""
        now = fields.Datetime.now()
        if outcome.kind == AUTH:
            reason = "provider_paused" if provider.state == "paused" else "provider_auth"
            when = now + PAUSED_RETRY
        else:
            reason = "provider_transient"
            when = now + max(TRANSIENT_PAUSE, timedelta(seconds=outcome.retry_after))
        traces = self.env["email.automation.trace"].union(*(envelope["trace"] for envelope in envelopes))
        traces._defer(dict.fromkeys(traces.ids, when), reason, provider._describe_failure(outcome))

    @api.model
    def _outgoing_email(self, provider, envelope):
        """The provider-neutral e-mail of an envelope, with its headers and keys."""
        trace = envelope["trace"]
        body = envelope.get("body_html") or ""
        sender_name, sender_email = tools.parse_contact_from_email(envelope["email_from"])
        to_name, to_email = tools.parse_contact_from_email(envelope["email_to"])
        _reply_name, reply_email = tools.parse_contact_from_email(envelope.get("reply_to") or "")
        # Generated before the call, stored only once the provider accepted the e-mail: a
        # trace with a Message-Id counts as sent when a dead worker's claims are recovered.
        envelope["message_id"] = self._new_message_id(envelope)
        headers = self._prepare_headers(envelope)
        # Replies quote it, so they thread on the record's chatter.
        headers["Message-Id"] = envelope["message_id"]
        return OutgoingEmail(
            trace_id=trace.id,
            idempotency_key=self._idempotency_key(trace),
            sender_email=sender_email,
            sender_name=sender_name,
            to_email=to_email,
            to_name=to_name,
            subject=self._subject(envelope),
            html=str(body),
            text=tools.html2plaintext(body),
            reply_to=reply_email if reply_email != sender_email else "",
            headers=headers,
            tags=[trace.scenario_id.name] if trace.scenario_id.name else [],
            # The e-mail tracks itself: the provider's tracking would count everything twice.
            track_opens=provider.track_opens and not envelope.get("is_tracked"),
            track_clicks=provider.track_clicks and not envelope.get("is_tracked"),
        )

    @api.model
    def _idempotency_key(self, trace):
        """The same for every attempt of a trace, unique across databases: a retry the
        provider already accepted is dropped by the provider."""
        # sudo: the database uuid is a system parameter.
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"{uuid}-trace-{trace.id}"
