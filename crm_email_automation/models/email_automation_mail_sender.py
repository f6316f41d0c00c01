import contextlib
import logging
import smtplib
import socket
from collections import defaultdict
from datetime import timedelta
from operator import itemgetter

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.tools import SQL, groupby

_logger = logging.getLogger(__name__)

# When the e-mails of a paused provider (or one refusing our key) are looked at again.
PAUSED_RETRY = timedelta(minutes=5)
# When the rest of a batch goes back to a provider that failed transiently.
TRANSIENT_PAUSE = timedelta(minutes=1)

TRANSIENT_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    socket.timeout,
    ConnectionError,
    TimeoutError,
)


def classify_smtp_error(error):
    """Return True when `error` (raised while sending one e-mail) may go away on retry.

    SMTP 4xx replies, time-outs and lost connections are transient; 5xx are permanent.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    return isinstance(error, TRANSIENT_ERRORS)


class EmailAutomationMailSender(models.AbstractModel):
    """Renders the claimed e-mails and hands them to their scenario's provider: Odoo's
    SMTP servers, or a provider's API."""

    _name = "email.automation.mail.sender"
    _description = "E-mail Automation Mail Sender"

    @api.model
    def _send_traces(self, traces, auto_commit=False):
        """Render and send the e-mails of the claimed mail `traces`, then log them in the
        records' chatter. Each trace is marked sent (and committed, in the cron) right after
        its server accepted it, so a crash never makes it send twice."""
        envelopes = self._prepare_envelopes(traces)
        self._render(envelopes)
        ready = [envelope for envelope in envelopes if envelope["trace"].state == "processing"]
        for envelope in ready:
            envelope["email_from"] = envelope.get("email_from") or self._default_email_from(envelope)
        self._add_tracking(ready)
        self._dispatch(ready, auto_commit)
        sent = {envelope["trace"].id: envelope for envelope in envelopes if envelope["trace"].state == "sent"}
        self._log_in_chatter(traces.filtered(lambda t: t.id in sent), sent)

    @api.model
    def _add_tracking(self, envelopes):
        """Hook: add the open pixel and tracked links to the rendered `envelopes`
        (email_automation_mail_tracking.py)."""

    @api.model
    def _dispatch(self, envelopes, auto_commit):
        """Route each e-mail through its scenario's provider: Odoo's SMTP servers, or an API."""
        by_provider = defaultdict(list)
        providers = {}
        for envelope in envelopes:
            scenario = envelope["trace"].scenario_id
            if scenario not in providers:
                providers[scenario] = scenario._get_provider()
            by_provider[providers[scenario]].append(envelope)
        smtp_envelopes = []
        for provider, provider_envelopes in by_provider.items():
            for envelope in provider_envelopes:
                envelope["provider_id"] = provider.id
            if provider.kind == "smtp" and provider.state != "active":
                # A paused SMTP provider sends nothing either (the API path checks its own).
                self._wait_for_provider(provider_envelopes, provider.pause_reason)
                continue
            if not provider or provider.kind == "smtp":
                for envelope in provider_envelopes:
                    server = provider._smtp_server(envelope["trace"].scenario_id)
                    envelope["mail_server_id"] = server.id or False
                smtp_envelopes += provider_envelopes
            else:
                self._send_with_provider(provider, provider_envelopes, auto_commit)
        if smtp_envelopes:
            self._send_with_smtp(smtp_envelopes, auto_commit)

    @api.model
    def _send_with_smtp(self, envelopes, auto_commit):
        """Send the rendered `envelopes` over Odoo's outgoing mail servers, one SMTP session
        per server."""
        by_server = defaultdict(list)
        servers = self.env["ir.mail_server"].sudo().search([("active", "=", True)], order="sequence")
        for envelope in envelopes:
            if not envelope["mail_server_id"]:
                # Odoo's own choice: the server whose "from" filter matches the sender.
                server, _smtp_from = servers._find_mail_server(envelope["email_from"], mail_servers=servers)
                envelope["mail_server_id"] = server.id if server else False
            by_server[envelope["mail_server_id"]].append(envelope)
        config = self.env["ir.config_parameter"].sudo()
        max_attempts = int(config.get_param("crm_email_automation.max_attempts", 5))
        for mail_server_id, server_envelopes in by_server.items():
            self._send_with_server(mail_server_id, server_envelopes, max_attempts, auto_commit)

    @api.model
    def _wait_for_provider(self, envelopes, reason):
        """Put the e-mails of a paused provider (or of a neutralized database) back in the
        queue until it may send again: no attempt charged, `reason` as the detail."""
        traces = self.env["email.automation.trace"].union(*(envelope["trace"] for envelope in envelopes))
        traces._defer(dict.fromkeys(traces.ids, fields.Datetime.now() + PAUSED_RETRY), "provider_paused", reason)

    # ------------------------------------------------------------------
    # Recipients
    # ------------------------------------------------------------------

    @api.model
    def _prepare_envelopes(self, traces):
        """One dict per trace with its record, recipient and language; traces without a
        usable recipient are skipped with the reason."""
        envelopes = []
        recipients = traces._recipients()
        default_lang = self.env.company.partner_id.lang or "en_US"
        for trace in traces:
            scenario = trace.scenario_id
            record, email = recipients[trace.id]
            partner = trace.participant_id.partner_id
            if not email:
                trace._finish("skipped", "no_recipient")
                continue
            if not tools.email_normalize(email):
                trace._finish("skipped", "invalid_email", email)
                continue
            email_to = tools.formataddr((partner.name or "", tools.email_normalize(email)))
            test_address = self._test_address(trace)
            if test_address:
                email_to = test_address
            envelopes.append(
                {
                    "trace": trace,
                    "trace_id": trace.id,
                    "is_test": bool(test_address),
                    "record": record,
                    "partner": partner,
                    "email_to": email_to,
                    "lang": partner.lang or self._record_lang(record) or default_lang,
                    "mail_server_id": scenario.mail_server_id.id or False,
                }
            )
        return envelopes

    @api.model
    def _test_address(self, trace):
        """Where a test e-mail of `trace` goes instead of its recipient, or False when the
        e-mail is real: the scenario's test address in test mode."""
        scenario = trace.scenario_id
        return scenario.is_test_mode and scenario.test_email

    @api.model
    def _record_lang(self, record):
        """The language a record without a contact asks for (a lead's language, say)."""
        if "lang" in record._fields and record._fields["lang"].type in ("char", "selection"):
            return record.lang
        if "lang_code" in record._fields:
            return record.lang_code
        return False

    # ------------------------------------------------------------------
    # Rendering
    # ------------------------------------------------------------------

    @api.model
    def _render(self, envelopes):
        """Render subject, body, sender and reply-to in batch: once per template and
        language. A template that fails is retried record by record, so only the records
        it fails on are failed."""
        groups = defaultdict(list)
        for envelope in envelopes:
            trace = envelope["trace"]
            template = envelope.get("template") or trace.step_id.mail_template_id
            # A template with its own language expression decides; otherwise the recipient's.
            lang = False if template.lang else envelope["lang"]
            groups[trace.scenario_id, template, lang].append(envelope)
        for (scenario, template, lang), group in groups.items():
            # Rendered as the scenario's responsible, in its company: the template reaches
            # no record its responsible could not open.
            template = template.with_env(scenario._responsible_env())
            try:
                rendered = self._render_template(template, lang, [e["record"].id for e in group])
            except Exception:  # noqa: BLE001 - isolate the records the template fails on
                rendered = {}
                for envelope in group:
                    try:
                        rendered.update(self._render_template(template, lang, [envelope["record"].id]))
                    except Exception as error:  # noqa: BLE001
                        envelope["trace"]._finish("failed", "render_error", str(error))
            for envelope in group:
                values = rendered.get(envelope["record"].id)
                if values:
                    envelope.update(values)

    @api.model
    def _render_template(self, template, lang, res_ids):
        compute_lang = not lang
        results = defaultdict(dict)
        for field in ("subject", "body_html", "email_from", "reply_to"):
            for res_id, value in template._render_field(
                field, res_ids, compute_lang=compute_lang, set_lang=lang
            ).items():
                results[res_id][field] = value
        return results

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    @api.model
    def _default_email_from(self, envelope):
        company = envelope["trace"].scenario_id.company_id
        return company.email_formatted or self.env["ir.mail_server"]._get_default_from_address()

    @api.model
    def _prepare_headers(self, envelope):
        """Headers added to every e-mail; the trace id lets replies and webhooks find it."""
        trace = envelope["trace"]
        headers = {"X-Odoo-Automation-Trace": str(trace.id)}
        if self._test_address(trace):
            headers["X-Odoo-Automation-Test"] = "1"
        return headers

    @api.model
    def _subject(self, envelope):
        subject = envelope.get("subject") or ""
        if self._test_address(envelope["trace"]):
            subject = self.env._("[TEST] %(subject)s", subject=subject)
        return subject

    @api.model
    def _new_message_id(self, envelope):
        """The RFC Message-Id of the e-mail: replies quote it, and the chatter log keeps it."""
        trace = envelope["trace"]
        return tools.mail.generate_tracking_message_id(f"{trace.res_id}-{trace.res_model}")

    @api.model
    def _build_message(self, envelope):
        trace = envelope["trace"]
        IrMailServer = self.env["ir.mail_server"].sudo()
        body = envelope.get("body_html") or ""
        object_id = f"{trace.res_id}-{trace.res_model}"
        return IrMailServer.build_email(
            email_from=envelope["email_from"],
            email_to=[envelope["email_to"]],
            subject=self._subject(envelope),
            body=body,
            body_alternative=tools.html2plaintext(body),
            reply_to=envelope.get("reply_to") or False,
            message_id=self._new_message_id(envelope),
            object_id=object_id,
            subtype="html",
            headers=self._prepare_headers(envelope),
        )

    @api.model
    def _send_with_server(self, mail_server_id, envelopes, max_attempts, auto_commit):
        """Send `envelopes` over one SMTP session, committing after each accepted e-mail.

        Every message is built and prepared before the first commit: a commit empties the
        ORM cache, and reading the records again for each e-mail would cost more queries
        than the sending itself. Inside the loop only SMTP and one UPDATE per e-mail run.
        """
        IrMailServer = self.env["ir.mail_server"].sudo()
        Trace = self.env["email.automation.trace"]
        try:
            # None in Odoo's test mode, where like ir.mail_server.send_email nothing leaves.
            smtp = IrMailServer.connect(mail_server_id=mail_server_id)
        except Exception as error:  # noqa: BLE001 - a server that does not answer is retried later
            _logger.warning("E-mail automation: cannot connect to the mail server: %s", error)
            Trace.union(*(e["trace"] for e in envelopes))._retry_later("smtp_transient", str(error), max_attempts)
            return
        outgoing, failures = [], []
        for envelope in envelopes:
            try:
                message = self._build_message(envelope)
                outgoing.append((envelope, *IrMailServer._prepare_email_message(message, smtp)))
            except Exception as error:  # noqa: BLE001 - a message that cannot be built fails alone
                failures.append((envelope, error, False))
        paused = []
        try:
            for index, (envelope, smtp_from, smtp_to_list, message) in enumerate(outgoing):
                if (
                    auto_commit
                    and index
                    and envelope["provider_id"]
                    and self._paused_meanwhile(envelope["provider_id"])
                ):
                    # Its provider was paused since the batch began, by hand or by another lane.
                    paused.append(envelope)
                    continue
                try:
                    if smtp:
                        smtp.send_message(message, smtp_from, smtp_to_list)
                except Exception as error:  # noqa: BLE001 - classified below, never lost
                    session_lost = isinstance(error, TRANSIENT_ERRORS)
                    failures.append((envelope, error, classify_smtp_error(error)))
                    if session_lost:
                        # The rest of the batch goes back to the queue, untried.
                        failures.extend((rest, error, True) for rest, *_message in outgoing[index + 1 :])
                        break
                    continue
                envelope["message_id"] = message["Message-Id"]
                self._mark_sent(envelope)
                if auto_commit:
                    # The e-mail left: make it known before the next one, so a crash now
                    # cannot send it again.
                    self.env.cr.commit()  # pylint: disable=invalid-commit
        finally:
            if smtp:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    # The server may have closed the session already (a 421 reply does).
                    smtp.quit()
        Trace.invalidate_model()
        for provider_id, waiting in groupby(paused, key=itemgetter("provider_id")):
            provider = self.env["email.automation.provider"].browse(provider_id)
            self._wait_for_provider(waiting, provider.pause_reason)
        for envelope, error, transient in failures:
            if transient:
                envelope["trace"]._retry_later("smtp_transient", str(error), max_attempts)
            else:
                envelope["trace"]._finish("failed", "smtp_permanent", str(error))

    @api.model
    def _mark_sent(self, envelope):
        # One UPDATE rather than the ORM's write: the ORM would first read the trace back
        # after the previous commit emptied its cache.
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                UPDATE email_automation_trace
                   SET state = 'sent', reason = NULL, reason_detail = NULL, sent_at = %(now)s,
                       processed_at = %(now)s, message_id = %(message_id)s, email_to = %(email_to)s,
                       is_test = %(is_test)s, provider_id = %(provider_id)s,
                       provider_message_id = %(provider_message_id)s, write_date = %(now)s, write_uid = %(uid)s
                 WHERE id = %(id)s
                """,
                now=now,
                message_id=envelope["message_id"],
                provider_id=envelope.get("provider_id") or None,
                provider_message_id=envelope.get("provider_message_id") or None,
                email_to=envelope["email_to"],
                is_test=envelope["is_test"],
                uid=self.env.uid,
                id=envelope["trace_id"],
            )
        )

    # ------------------------------------------------------------------
    # Chatter
    # ------------------------------------------------------------------

    @api.model
    def _log_in_chatter(self, traces, envelopes=None):
        """Log the sent e-mails on their records, in one batch. Without the rendered
        envelope (a recovered claim) the log names the step instead of the body."""
        envelopes = envelopes or {}
        traces = traces.filtered(lambda t: not t.mail_message_id)
        if not traces:
            return
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        vals_list = []
        for trace in traces:
            envelope = envelopes.get(trace.id, {})
            # The body without the pixel and the tracked links: readers of the chatter are
            # not the recipient.
            body = (
                envelope.get("untracked_body_html")
                or envelope.get("body_html")
                or Markup("<p>%s</p>")
                % self.env._(
                    "E-mail of step “%(step)s” sent by scenario “%(scenario)s”.",
                    step=trace.step_id.name,
                    scenario=trace.scenario_id.name,
                )
            )
            vals_list.append(
                {
                    "model": trace.res_model,
                    "res_id": trace.res_id,
                    "message_type": "email_outgoing",
                    "subtype_id": subtype_id,
                    "body": body,
                    "subject": envelope.get("subject") or trace.step_id.name,
                    "email_from": envelope.get("email_from") or False,
                    "author_id": trace.scenario_id.company_id.partner_id.id,
                    "partner_ids": [(6, 0, trace.partner_id.ids)],
                    "message_id": trace.message_id,
                    "is_internal": False,
                    # Given, so that mail.message does not work them out one record at a
                    # time: that alone tripled the cost of logging a batch.
                    "reply_to": envelope.get("reply_to") or envelope.get("email_from") or False,
                    "record_name": False,
                    "record_alias_domain_id": False,
                    "record_company_id": False,
                }
            )
        # sudo: logging on the record is the queue's job; the cron user may not follow it.
        messages = self.env["mail.message"].sudo().create(vals_list)
        for trace, message in zip(traces, messages, strict=True):
            trace.mail_message_id = message
