"""The open pixel and tracked links, fetched: tracking events seen by Odoo itself, told
apart from the machines that fetch them (privacy proxies, link scanners)."""

from datetime import timedelta, timezone

from odoo import api, fields, models
from odoo.tools import SQL

from ..providers.webhook_events import MAX_URL, WebhookEvent

# An open this soon after the e-mail was sent (or delivered, when the provider said so) is
# a prefetch: Apple Mail Privacy Protection loads every image at delivery, read or not.
MACHINE_OPEN_SECONDS = 60
# A click this soon after sending, or within this many seconds of a click on another link
# of the same e-mail, is a link scanner (a mail gateway opening every link to check it).
MACHINE_CLICK_SECONDS = 30
CLICK_BURST_SECONDS = 5
# User agents of programs, never people; matched case-insensitively anywhere in the header.
# Google's image proxy (Gmail's "GoogleImageProxy") is not one: Gmail fetches through it
# when the person opens the e-mail, so it is judged by timing like any mail client.
MACHINE_AGENTS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "curl",
    "wget",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww",
    "headlesschrome",
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
)


def is_machine_agent(user_agent):
    agent = (user_agent or "").lower()
    return not agent or any(marker in agent for marker in MACHINE_AGENTS)


class EmailAutomationEvent(models.Model):
    _inherit = "email.automation.event"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _track_open(self, trace_id, user_agent="", is_head=False):
        """Record that the open pixel of `trace_id` was fetched; return the event type
        recorded (`open` or `machine_open`), or None for an unknown or unsent trace."""
        now = fields.Datetime.now()
        trace = self._tracked_trace(trace_id)
        if not trace:
            return None
        since = now - max(trace["sent_at"], trace["delivered_at"] or trace["sent_at"])
        machine = is_head or is_machine_agent(user_agent) or since < timedelta(seconds=MACHINE_OPEN_SECONDS)
        return self._record_hit(trace, "machine_open" if machine else "open", now)

    @api.model
    def _track_click(self, trace_id, url, user_agent="", is_head=False):
        """Record a click on the tracked link to `url` of `trace_id`; return the event type
        recorded (`click` or `machine_click`), or None for an unknown or unsent trace."""
        now = fields.Datetime.now()
        url = (url or "")[:MAX_URL]
        trace = self._tracked_trace(trace_id, url=url, since=now - timedelta(seconds=CLICK_BURST_SECONDS))
        if not trace:
            return None
        machine = (
            is_head
            or is_machine_agent(user_agent)
            or now - trace["sent_at"] < timedelta(seconds=MACHINE_CLICK_SECONDS)
            or trace["other_clicks"]
        )
        return self._record_hit(trace, "machine_click" if machine else "click", now, url=url)

    @api.model
    def _tracked_trace(self, trace_id, url=None, since=None):
        """What the classification needs of a sent trace, in one query: its times, its
        Message-Id and, for a click, whether another link of it was clicked since `since`."""
        # No query when nothing is pending, as on the tracking routes.
        self.env["email.automation.trace"].flush_model(["sent_at", "delivered_at", "message_id"])
        self.flush_model(["trace_id", "event_type", "url", "occurred_at"])
        self.env.cr.execute(
            SQL(
                """
                SELECT trace.id, trace.sent_at, trace.delivered_at, trace.message_id,
                       %(url)s::varchar IS NOT NULL AND EXISTS (
                           SELECT 1 FROM email_automation_event event
                            WHERE event.trace_id = trace.id AND event.event_type IN ('click', 'machine_click')
                              AND event.url IS DISTINCT FROM %(url)s AND event.occurred_at >= %(since)s
                       )
                  FROM email_automation_trace trace
                 WHERE trace.id = %(id)s AND trace.sent_at IS NOT NULL
                """,
                id=trace_id,
                url=url,
                since=since,
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return None
        return dict(zip(("id", "sent_at", "delivered_at", "message_id", "other_clicks"), row, strict=True))

    @api.model
    def _tracked_link(self, code):
        """(id, URL) of the link tracker of `code`, in one query, else (None, None). The
        trackers this module writes carry no UTM, so the target is the URL of the e-mail."""
        self.env.cr.execute(
            SQL(
                """
                SELECT link.id, link.url
                  FROM link_tracker_code code
                  JOIN link_tracker link ON link.id = code.link_id
                 WHERE code.code = %(code)s
                """,
                code=code,
            )
        )
        return self.env.cr.fetchone() or (None, None)

    @api.model
    def _count_link_click(self, link_id, ip_address):
        """Count a person's click on link_tracker's tracker, as its own /r/ route does: the
        click row and the tracker's stored count, in one statement (the ORM's create would
        recompute the count with a grouped read)."""
        self.env.cr.execute(
            SQL(
                """
                WITH click AS (
                    INSERT INTO link_tracker_click (link_id, campaign_id, ip, create_uid, create_date, write_uid,
                                                    write_date)
                    SELECT id, campaign_id, %(ip)s, %(uid)s, now() at time zone 'UTC', %(uid)s,
                           now() at time zone 'UTC'
                      FROM link_tracker WHERE id = %(link)s
                 RETURNING link_id
                )
                UPDATE link_tracker SET count = COALESCE(count, 0) + 1 WHERE id IN (SELECT link_id FROM click)
                """,
                link=link_id,
                ip=(ip_address or "")[:255] or None,
                uid=self.env.uid,
            )
        )
        self.env["link.tracker"].invalidate_model(["count"])

    @api.model
    def _record_hit(self, trace, event_type, now, url=None):
        event = WebhookEvent(
            event_type=event_type,
            provider_event="pixel" if "open" in event_type else "link",
            message_id=(trace["message_id"] or str(trace["id"])).strip("<>")[:255],
            # To the second: a mail client fetching the pixel twice at once counts once.
            occurred_ms=int(now.replace(tzinfo=timezone.utc).timestamp()) * 1000,
            url=url,
        )
        # A tracking hit lost in a crash in the next few milliseconds costs less than the
        # wait for the disk on every hit: this transaction commits without it.
        self.env.cr.execute("SET LOCAL synchronous_commit TO OFF")
        # No provider: Odoo saw it itself. The same ingestion as the webhooks' (dedupe,
        # first times, counters, and whatever else the effects do).
        self._record_events(self.env["email.automation.provider"], [(event, trace["id"])])
        return event_type
