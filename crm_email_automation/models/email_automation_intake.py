"""Tracking signals received over HTTP and not recorded yet: the open pixel, tracked links
and the providers' webhooks write one row here and answer; a cron job woken at commit
turns the rows into tracking events (the one ingestion of email_automation_event.py)."""

import dataclasses
import functools
import json
import logging
import time
from collections import Counter

from odoo import api, fields, models
from odoo.tools import SQL

from ..providers.webhook_events import WebhookEvent
from .cron_wake_up import notify_cron_workers

_logger = logging.getLogger(__name__)

CRON_XMLID = "crm_email_automation.ir_cron_record_intake"
# The records a signal is about, by the field that shows them and the column of their id.
REFERENCES = {"trace_id": "trace_ref", "provider_id": "provider_ref", "link_id": "link_ref"}
# Rows recorded per transaction; a run goes on until the intake is empty or its time is up.
BATCH_SIZE = 500
TIME_BUDGET = 120  # seconds, well within a prefork cron worker's limit


@functools.cache
def _receive_query(columns, durable, by_link_code):
    """The statement `_receive` runs, built once per shape: the hot routes spend no time
    composing it. Its parameters: the link (code, or id and URL), the kind, the values of
    `columns`, the cron and the user."""
    if by_link_code:
        link = """
                SELECT link.id, link.url
                  FROM link_tracker_code code
                  JOIN link_tracker link ON link.id = code.link_id
                 WHERE code.code = %s"""
    else:
        link = "SELECT %s::int AS id, %s::varchar AS url"
    names = ", ".join(f'"{column}"' for column in columns)
    placeholders = ", ".join("%s" for _column in columns)
    return f"""
        {"" if durable else "SET LOCAL synchronous_commit TO OFF;"}
        WITH link AS ({link}),
        signal AS (
            INSERT INTO email_automation_intake (received_at, link_ref, url, kind{", " if columns else ""}{names})
            SELECT now() at time zone 'UTC', link.id, link.url, %s{", " if columns else ""}{placeholders}
              FROM link
         RETURNING url
        ),
        wake AS (
            INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date, write_uid, write_date)
            SELECT %s, clock_timestamp() at time zone 'UTC', uid.id, now() at time zone 'UTC',
                   uid.id, now() at time zone 'UTC'
              FROM signal, (SELECT %s::int AS id) uid
        )
        SELECT url FROM signal
    """


class EmailAutomationIntake(models.Model):
    """One tracking signal as it arrived: a pixel fetch, a tracked-link click or a webhook
    request's validated events.

    The HTTP routes pay one insert (and a cron trigger in the same statement), so that
    they answer as fast as Odoo can answer at all; what a signal means (a person or a
    machine, a first open, a branch to schedule, a suppression) is worked out by the cron
    job, in batches, moments later. A row that fails is kept with its error, for a look.
    """

    _name = "email.automation.intake"
    _description = "E-mail Automation Incoming Tracking Signal"
    _order = "id"
    _log_access = False

    kind = fields.Selection(
        [("open", "Open pixel"), ("click", "Tracked link"), ("webhook", "Provider webhook")], required=True
    )
    received_at = fields.Datetime(string="Received", required=True)
    # Plain ids, no foreign keys: a key check locks the referenced row (the e-mail, the
    # tracker) on every hit, which costs the hot routes more than the insert itself. A
    # signal about a record deleted meanwhile is recorded as unknown.
    trace_ref = fields.Integer(string="E-mail ID")
    provider_ref = fields.Integer(string="Provider ID")
    link_ref = fields.Integer(string="Tracked Link ID")
    trace_id = fields.Many2one(
        "email.automation.trace", string="E-mail", compute="_compute_records", inverse="_inverse_records"
    )
    provider_id = fields.Many2one("email.automation.provider", compute="_compute_records", inverse="_inverse_records")
    link_id = fields.Many2one(
        "link.tracker", string="Tracked Link", compute="_compute_records", inverse="_inverse_records"
    )
    url = fields.Char(string="URL")
    user_agent = fields.Char()
    is_head = fields.Boolean(string="HEAD Request", help="Fetched with HEAD: a program checking the link.")
    ip_address = fields.Char(string="IP Address")
    events = fields.Json(help="A webhook's validated events.")
    error = fields.Text(readonly=True, help="Why recording this signal failed; it is then left aside.")

    @api.depends(*REFERENCES.values())
    def _compute_records(self):
        for field, ref in REFERENCES.items():
            comodel = self.env[self._fields[field].comodel_name]
            existing = set(comodel.browse({ref_id for ref_id in self.mapped(ref) if ref_id}).exists().ids)
            for signal in self:
                signal[field] = signal[ref] if signal[ref] in existing else False

    def _inverse_records(self):
        for signal in self:
            signal.update({ref: signal[field].id for field, ref in REFERENCES.items()})

    # ------------------------------------------------------------------
    # Writing, on the hot routes
    # ------------------------------------------------------------------

    @api.model
    def _receive(self, kind, durable=True, link_code=None, **values):
        """Store one signal and wake the cron job at commit: one statement and, after the
        commit, one notification to the cron workers.

        With `link_code`, a tracked link's: its tracker and target URL are looked up in the
        same statement, and nothing is stored for an unknown code. Returns the stored row's
        URL as a 1-tuple, or None when nothing was stored.

        Not `durable`: the commit does not wait for the disk. A pixel fetch or a click lost
        if PostgreSQL crashes in the next few milliseconds costs less than that wait on
        every hit; a provider's event, acknowledged, would not be sent again."""
        if "events" in values:
            values["events"] = json.dumps([dataclasses.asdict(event) for event in values["events"]])
        link = (link_code,) if link_code is not None else (values.pop("link_id", None), values.pop("url", None))
        values = {REFERENCES.get(name, name): value for name, value in values.items()}
        columns = tuple(values)
        if not set(columns) <= self._fields.keys():
            # The names go into the statement's text: only this model's own columns.
            raise ValueError(f"not intake columns: {sorted(set(columns) - self._fields.keys())}")
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id(CRON_XMLID)
        query = _receive_query(columns, durable, link_code is not None)
        self.env.cr.execute(query, (*link, kind, *values.values(), cron_id, self.env.uid or None))
        stored = self.env.cr.fetchone()
        if stored:
            # After the commit, so that the job cannot run before it sees the row. The clock
            # time of the trigger keeps it from being taken for one a running job consumed.
            self.env.cr.postcommit.add(functools.partial(notify_cron_workers, self.env.cr.dbname))
        return stored

    def action_record_again(self):
        """Put failed signals back in line, once their cause is fixed, and wake the job.
        Administrators only: the only ones who may write these rows."""
        failed = self.filtered("error")
        failed.write({"error": False})
        self.env.ref(CRON_XMLID).sudo()._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Tracking signals to be recorded again: %(count)s", count=len(failed)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # ------------------------------------------------------------------
    # Recording, in the cron job
    # ------------------------------------------------------------------

    @api.model
    def _cron_record(self):
        started = time.monotonic()
        while self._record(auto_commit=True):
            if time.monotonic() - started > TIME_BUDGET:
                # The rest in a new run, woken at once, within a prefork cron worker's limit.
                self.env.ref(CRON_XMLID).sudo()._trigger()
                return

    @api.model
    def _record(self, limit=BATCH_SIZE, auto_commit=False):
        """Record up to `limit` waiting signals, oldest first; return the counts of
        `_ingest` summed (received, recorded, duplicates, unknown) and `failed`, or None
        when nothing was waiting.

        Rows are taken with SKIP LOCKED, so that two runs never record the same signal. The
        batch is recorded at once; if that fails, one by one, and a signal that fails alone
        is kept aside with its error."""
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
            self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        self.env.cr.execute(
            SQL(
                """
                SELECT id FROM email_automation_intake
                 WHERE error IS NULL
                 ORDER BY id
                 LIMIT %(limit)s
                   FOR UPDATE SKIP LOCKED
                """,
                limit=limit,
            )
        )
        signals = self.browse([row[0] for row in self.env.cr.fetchall()])
        if not signals:
            return None
        try:
            with self.env.cr.savepoint():
                totals = signals._record_batch()
        except Exception:  # noqa: BLE001 - one bad signal must not hold up the others
            _logger.warning("E-mail automation: recording tracking signals one by one", exc_info=True)
            totals = Counter()
            for signal in signals:
                try:
                    with self.env.cr.savepoint():
                        totals.update(signal._record_batch())
                except Exception as error:
                    _logger.exception("E-mail automation: could not record tracking signal %s", signal.id)
                    signal.error = str(error) or type(error).__name__
                    totals["failed"] += 1
        done = signals.filtered(lambda signal: not signal.error)
        if done:
            self.env.cr.execute(SQL("DELETE FROM email_automation_intake WHERE id = ANY(%s)", done.ids))
        self.invalidate_model()
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return {key: totals[key] for key in ("received", "recorded", "duplicates", "unknown", "failed")}

    def _record_batch(self):
        """Record these signals: each provider's webhook events in one ingestion, the pixel
        fetches and clicks in another. Returns the counts (a Counter)."""
        # sudo: the signals came from mail clients and providers, with no user.
        Event = self.env["email.automation.event"].sudo()
        totals = Counter()
        webhooks = self.filtered(lambda signal: signal.kind == "webhook")
        for provider_ref, requests in webhooks.grouped("provider_ref").items():
            events = [WebhookEvent(**event) for request in requests for event in request.events or []]
            provider = self.env["email.automation.provider"].browse(provider_ref).exists()
            if provider:
                totals.update(Event._ingest(provider, events))
            else:  # deleted since: nothing of it to record
                totals.update(received=len(events), unknown=len(events))
        hits = self - webhooks
        if hits:
            recorded = Event._track_hits(
                [
                    {
                        "kind": hit.kind,
                        "trace_id": hit.trace_ref,
                        "at": hit.received_at,
                        "url": hit.url,
                        "user_agent": hit.user_agent,
                        "is_head": hit.is_head,
                    }
                    for hit in hits
                ]
            )
            # link_tracker's own counts, as its /r/ route counts people (not machines).
            Event._count_link_clicks(
                [(hit.link_ref, hit.ip_address) for hit, kind in zip(hits, recorded, strict=True) if kind == "click"]
            )
            totals.update(
                received=len(hits), recorded=len(recorded) - recorded.count(None), unknown=recorded.count(None)
            )
        return totals
