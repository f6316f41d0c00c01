import logging
from collections import Counter, defaultdict
from datetime import timezone

from odoo import api, fields, models, tools
from odoo.tools import SQL
from odoo.tools.mail import unfold_references

from ..providers.webhook_events import WebhookEvent, normalize_message_id

_logger = logging.getLogger(__name__)

EVENT_TYPES = [
    ("sent", "Accepted by the provider"),
    ("delivered", "Delivered"),
    ("deferred", "Delivery delayed"),
    ("open", "Opened"),
    ("machine_open", "Opened by a machine"),
    ("click", "Clicked"),
    ("reply", "Replied"),
    ("soft_bounce", "Soft bounce"),
    ("hard_bounce", "Hard bounce"),
    ("blocked", "Blocked by the provider"),
    ("rejected", "Rejected by the provider"),
    ("invalid_email", "Invalid address"),
    ("spam", "Spam complaint"),
    ("unsubscribe", "Unsubscribed"),
    ("error", "Provider error"),
]

# The trace's first-time column each event type fills (clicks also fill opened_at).
FIRST_TIME_COLUMNS = {
    "delivered": "delivered_at",
    "open": "opened_at",
    "click": "clicked_at",
    "soft_bounce": "bounced_at",
    "hard_bounce": "bounced_at",
    "invalid_email": "bounced_at",
}
# The event types that change a trace, a suppression or a consent (see _apply_effects);
# the others (sent, deferred, blocked, rejected, error, reply) are only recorded.
EFFECT_TYPES = {*FIRST_TIME_COLUMNS, "machine_open", "spam", "unsubscribe"}
# An event whose message went to several recipients and that names none of them alone.
AMBIGUOUS = object()
TRACKING_COLUMNS = (
    "delivered_at",
    "opened_at",
    "clicked_at",
    "bounced_at",
    "open_count",
    "machine_open_count",
    "click_count",
)


def _addresses(email_to):
    """The normalized addresses of a trace's recipient field."""
    return set(tools.email_normalize_all(email_to or ""))


def _is_for(event, addresses):
    """Whether `event` may concern a trace sent to `addresses`: it names one of them, or
    no address at all."""
    return not event.email or tools.email_normalize(event.email) in addresses


class EmailAutomationEvent(models.Model):
    """What happened to a sent e-mail, as reported by Odoo or by the provider's webhooks.

    Each provider event is stored once: replays and duplicates share the same `dedupe_key`
    (provider, provider message id, event, timestamp) and are ignored.
    """

    _name = "email.automation.event"
    _description = "E-mail Tracking Event"
    _order = "occurred_at desc, id desc"
    _rec_name = "event_type"

    trace_id = fields.Many2one("email.automation.trace", required=True, ondelete="cascade", index=True)
    scenario_id = fields.Many2one(related="trace_id.scenario_id", store=True, index=True)
    company_id = fields.Many2one(related="trace_id.company_id", store=True)
    provider_id = fields.Many2one("email.automation.provider", readonly=True, ondelete="set null")
    event_type = fields.Selection(EVENT_TYPES, required=True, readonly=True, index=True)
    provider_event = fields.Char(string="Provider Event Name", readonly=True)
    message_id = fields.Char(string="Provider Message ID", readonly=True)
    occurred_at = fields.Datetime(required=True, readonly=True)
    email = fields.Char(string="E-mail", readonly=True)
    url = fields.Char(string="Clicked Link", readonly=True)
    detail = fields.Text(readonly=True, help="The reason the provider gave (bounce, rejection, error).")
    dedupe_key = fields.Char(required=True, readonly=True)

    _sql_constraints = [
        ("dedupe_key_uniq", "unique(dedupe_key)", "Each provider event is recorded once."),
    ]

    # ------------------------------------------------------------------
    # Webhook ingestion
    # ------------------------------------------------------------------

    @api.model
    def _ingest(self, provider, events):
        """Record the validated `events` (providers.webhook_events.WebhookEvent) of `provider`
        and apply what they mean to the traces, suppressions and consents.

        Batch work: one query finds the traces, one inserts the events (a replayed or
        duplicated event hits the unique dedupe key and is skipped), one updates the traces;
        only newly recorded events have effects, so a replay changes nothing twice.
        Returns the counts the webhook answers with.
        """
        traces_by_event = self._match_traces(provider, events)
        known = [(event, trace_id) for event, trace_id in zip(events, traces_by_event, strict=True) if trace_id]
        unknown = len(events) - len(known)
        if unknown:
            # Counted, not stored nor retried: the e-mail was not sent from here (or is gone).
            _logger.info("Provider %s reported %s event(s) for unknown message ids.", provider.id, unknown)
        recorded = self._insert_events(provider, known)
        if effective := [row for row in recorded if row[1] in EFFECT_TYPES]:
            self._apply_effects(effective)
        return {
            "received": len(events),
            "recorded": len(recorded),
            "duplicates": len(known) - len(recorded),
            "unknown": unknown,
        }

    @api.model
    def _match_traces(self, provider, events):
        """The trace id of each event (or None): by the provider's message id (stored with
        or without angle brackets) and, when that message went to several recipients, the
        event's address; else by the trace id the e-mail carried, if that trace was sent
        through this provider."""
        self.env.flush_all()
        message_ids = {event.message_id for event in events}
        candidates = list(message_ids | {f"<{message_id}>" for message_id in message_ids})
        self.env.cr.execute(
            SQL(
                """
                SELECT id, provider_message_id, email_to
                  FROM email_automation_trace
                 WHERE provider_id = %(provider)s AND provider_message_id = ANY(%(candidates)s)
                 ORDER BY id
                """,
                provider=provider.id,
                candidates=candidates,
            )
        )
        by_message_id = defaultdict(list)
        for trace_id, message_id, email_to in self.env.cr.fetchall():
            by_message_id[message_id.strip().strip("<>").strip()].append((trace_id, _addresses(email_to)))

        def by_message(event):
            """The trace id, None when the message id is unknown, AMBIGUOUS when the
            event's address is not exactly one of the message's recipients."""
            traces = by_message_id.get(event.message_id)
            if not traces:
                return None
            if len(traces) == 1 and _is_for(event, traces[0][1]):
                return traces[0][0]
            # One message id for several recipients: the event's address tells which, or
            # the event is dropped; filed under another recipient it would bounce,
            # suppress or unsubscribe the wrong person.
            email = tools.email_normalize(event.email or "")
            found = [trace_id for trace_id, addresses in traces if email and email in addresses]
            return found[0] if len(found) == 1 else AMBIGUOUS

        matched = [by_message(event) for event in events]
        # The trace id the e-mail carried is a fallback for unknown message ids only: an
        # ambiguous event stays dropped.
        refs = {event.trace_ref for event, trace_id in zip(events, matched, strict=True) if trace_id is None}
        refs.discard(None)
        if refs:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT id, email_to FROM email_automation_trace
                     WHERE id = ANY(%(ids)s) AND provider_id = %(provider)s
                    """,
                    ids=list(refs),
                    provider=provider.id,
                )
            )
            # The trace id rides along with every copy of a message sent to several
            # addresses (Mandrill's metadata): the event's address must be the trace's.
            sent_here = {trace_id: _addresses(email_to) for trace_id, email_to in self.env.cr.fetchall()}
            matched = [
                trace_id
                if trace_id is not None
                else (
                    event.trace_ref
                    if event.trace_ref in sent_here and _is_for(event, sent_here[event.trace_ref])
                    else None
                )
                for event, trace_id in zip(events, matched, strict=True)
            ]
        if AMBIGUOUS in matched:
            _logger.info(
                "Provider %s reported events naming no single recipient of their e-mail: dropped.", provider.id
            )
        return [None if trace_id is AMBIGUOUS else trace_id for trace_id in matched]

    @api.model
    def _insert_events(self, provider, known):
        """Insert the (event, trace id) pairs not recorded yet; return the new rows as
        (trace_id, event_type, occurred_at) tuples."""
        if not known:
            return []
        columns = defaultdict(list)
        for event, trace_id in known:
            columns["trace_id"].append(trace_id)
            columns["event_type"].append(event.event_type)
            columns["provider_event"].append(event.provider_event)
            columns["message_id"].append(event.message_id)
            columns["occurred_at"].append(event.occurred_at)
            columns["email"].append(event.email)
            columns["url"].append(event.url)
            columns["detail"].append(event.detail)
            columns["dedupe_key"].append(event.dedupe_key(provider.id or f"trace-{trace_id}"))
        # Raw SQL for ON CONFLICT DO NOTHING: concurrent replays never fail on the unique key.
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO email_automation_event (
                       trace_id, scenario_id, company_id, provider_id, event_type, provider_event, message_id,
                       occurred_at, email, url, detail, dedupe_key, create_uid, create_date, write_uid, write_date)
                SELECT new.trace_id, trace.scenario_id, trace.company_id, %(provider)s, new.event_type,
                       new.provider_event, new.message_id, new.occurred_at, new.email, new.url, new.detail,
                       new.dedupe_key, %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                  FROM unnest(%(trace_id)s::int[], %(event_type)s::varchar[], %(provider_event)s::varchar[],
                              %(message_id)s::varchar[], %(occurred_at)s::timestamp[], %(email)s::varchar[],
                              %(url)s::varchar[], %(detail)s::text[], %(dedupe_key)s::varchar[])
                       AS new(trace_id, event_type, provider_event, message_id, occurred_at, email, url, detail,
                              dedupe_key)
                  JOIN email_automation_trace trace ON trace.id = new.trace_id
                    ON CONFLICT (dedupe_key) DO NOTHING
             RETURNING trace_id, event_type, occurred_at
                """,
                provider=provider.id or None,
                uid=self.env.uid,
                **columns,
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _apply_effects(self, recorded):
        """What newly recorded events mean: first times and counters on the traces (one
        query), then suppression of bounced or complaining addresses and withdrawal of
        consent on unsubscribes."""
        first = defaultdict(dict)  # trace id -> {column: earliest time}
        counts = defaultdict(Counter)  # trace id -> {event type: new events}
        for trace_id, event_type, occurred_at in recorded:
            counts[trace_id][event_type] += 1
            column = FIRST_TIME_COLUMNS.get(event_type)
            for name in (column, "opened_at" if event_type == "click" else None):
                if name and (name not in first[trace_id] or occurred_at < first[trace_id][name]):
                    first[trace_id][name] = occurred_at
        trace_ids = list(counts)
        self.env.cr.execute(
            SQL(
                """
                UPDATE email_automation_trace trace
                   SET delivered_at = COALESCE(trace.delivered_at, new.delivered_at),
                       opened_at = COALESCE(trace.opened_at, new.opened_at),
                       clicked_at = COALESCE(trace.clicked_at, new.clicked_at),
                       bounced_at = COALESCE(trace.bounced_at, new.bounced_at),
                       open_count = COALESCE(trace.open_count, 0) + new.opens,
                       machine_open_count = COALESCE(trace.machine_open_count, 0) + new.machine_opens,
                       click_count = COALESCE(trace.click_count, 0) + new.clicks
                  FROM unnest(%(ids)s::int[], %(delivered)s::timestamp[], %(opened)s::timestamp[],
                              %(clicked)s::timestamp[], %(bounced)s::timestamp[], %(opens)s::int[],
                              %(machine_opens)s::int[], %(clicks)s::int[])
                       AS new(id, delivered_at, opened_at, clicked_at, bounced_at, opens, machine_opens, clicks)
                 WHERE trace.id = new.id
             RETURNING trace.id, trace.email_to
                """,
                ids=trace_ids,
                delivered=[first[t].get("delivered_at") for t in trace_ids],
                opened=[first[t].get("opened_at") for t in trace_ids],
                clicked=[first[t].get("clicked_at") for t in trace_ids],
                bounced=[first[t].get("bounced_at") for t in trace_ids],
                opens=[counts[t]["open"] for t in trace_ids],
                machine_opens=[counts[t]["machine_open"] for t in trace_ids],
                clicks=[counts[t]["click"] for t in trace_ids],
            )
        )
        email_by_trace = {trace_id: email for trace_id, email in self.env.cr.fetchall() if email}
        # sudo: webhooks arrive without a user; the effects concern the traces' recipients.
        traces = self.env["email.automation.trace"].sudo().browse(trace_ids)
        traces.invalidate_recordset(list(TRACKING_COLUMNS))

        def emails(*event_types):
            return [
                email
                for trace_id, email in email_by_trace.items()
                if any(counts[trace_id][event_type] for event_type in event_types)
            ]

        Suppression = self.env["email.automation.suppression"].sudo()
        if delivered := emails("delivered"):
            # What writing delivered_at does through the ORM: a delivery ends a soft-bounce run.
            Suppression._register_delivery(delivered)
        if hard := emails("hard_bounce", "invalid_email"):
            Suppression._register_bounce(hard, hard=True)
        # Each soft bounce counts toward the run, even several in one request.
        soft_runs = Counter()
        for trace_id, email in email_by_trace.items():
            soft_runs[email] += counts[trace_id]["soft_bounce"]
        for round_ in range(max(soft_runs.values(), default=0)):
            Suppression._register_bounce([e for e, n in soft_runs.items() if n > round_], hard=False)
        if complaints := emails("spam"):
            Suppression._suppress(complaints, "complaint")
        sender = self.env["email.automation.mail.sender"].sudo()
        for trace in traces.browse([trace_id for trace_id in trace_ids if counts[trace_id]["unsubscribe"]]):
            sender._unsubscribe_trace(trace, "webhook")

    # ------------------------------------------------------------------
    # Replies, seen by Odoo's own mail gateway
    # ------------------------------------------------------------------

    @api.model
    def _record_reply(self, message_dict):
        """An incoming e-mail answering one of our e-mails (In-Reply-To, else the newest
        known entry of References) records a reply on its trace and sets replied_at once."""
        references = [message_dict.get("in_reply_to") or ""]
        references += reversed(unfold_references(message_dict.get("references") or ""))
        references = [ref.strip() for ref in references if ref and ref.strip()][:32]
        if not references:
            return
        # sudo: replies arrive through the mail gateway, without a user.
        traces = self.env["email.automation.trace"].sudo().search([("message_id", "in", references)])
        if not traces:
            return
        trace = min(traces, key=lambda t: references.index(t.message_id))
        try:
            received = fields.Datetime.to_datetime(message_dict.get("date")) or fields.Datetime.now()
        except (ValueError, TypeError):  # a malformed Date header must not stop the mail
            received = fields.Datetime.now()
        reply = WebhookEvent(
            event_type="reply",
            provider_event="reply",
            # The reply's own Message-Id: the same e-mail fetched twice is recorded once.
            message_id=normalize_message_id(message_dict.get("message_id") or "")[:255] or str(trace.id),
            occurred_ms=int(received.replace(tzinfo=timezone.utc).timestamp()) * 1000,
            email=(message_dict.get("email_from") or "")[:320] or None,
        )
        recorded = self._insert_events(trace.provider_id, [(reply, trace.id)])
        if recorded:
            trace.filtered(lambda t: not t.replied_at).write({"replied_at": received})
