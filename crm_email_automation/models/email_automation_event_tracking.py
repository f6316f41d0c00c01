"""The open pixel and tracked links, fetched: tracking events seen by Odoo itself, told
apart from the machines that fetch them (privacy proxies, link scanners)."""

from collections import defaultdict
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
    def _track_open(self, trace_id, user_agent="", is_head=False, at=None):
        """Record that the open pixel of `trace_id` was fetched (at `at`, by default now);
        return the event type recorded (`open` or `machine_open`), or None for an unknown
        or unsent trace."""
        hit = {"kind": "open", "trace_id": trace_id, "user_agent": user_agent, "is_head": is_head, "at": at}
        return self._track_hits([hit])[0]

    @api.model
    def _track_click(self, trace_id, url, user_agent="", is_head=False, at=None):
        """Record a click on the tracked link to `url` of `trace_id` (at `at`, by default
        now); return the event type recorded (`click` or `machine_click`), or None for an
        unknown or unsent trace."""
        hit = {
            "kind": "click",
            "trace_id": trace_id,
            "url": url,
            "user_agent": user_agent,
            "is_head": is_head,
            "at": at,
        }
        return self._track_hits([hit])[0]

    @api.model
    def _track_hits(self, hits):
        """Record fetches of open pixels and tracked links, oldest first: dicts of `kind`
        (open or click), `trace_id`, `at` (empty: now), `user_agent`, `is_head` and, for a
        click, `url`. Three queries for the lot, then the one ingestion of all events.
        Returns the event type recorded for each hit, None for an unknown or unsent trace."""
        now = fields.Datetime.now()
        traces = self._tracked_traces({hit["trace_id"] for hit in hits})
        clicks = [hit for hit in hits if hit["kind"] == "click" and hit["trace_id"] in traces]
        recent = self._recent_clicks(
            {hit["trace_id"] for hit in clicks},
            min((hit["at"] or now for hit in clicks), default=now) - timedelta(seconds=CLICK_BURST_SECONDS),
        )
        recorded, known = [], []
        for hit in hits:
            trace, at = traces.get(hit["trace_id"]), hit["at"] or now
            if not trace:
                recorded.append(None)
                continue
            machine = hit.get("is_head") or is_machine_agent(hit.get("user_agent"))
            if hit["kind"] == "open":
                since = at - max(trace["sent_at"], trace["delivered_at"] or trace["sent_at"])
                machine = machine or since < timedelta(seconds=MACHINE_OPEN_SECONDS)
                event_type, url = "machine_open" if machine else "open", None
            else:
                url = (hit.get("url") or "")[:MAX_URL]
                burst_start = at - timedelta(seconds=CLICK_BURST_SECONDS)
                other_clicks = any(
                    other_url != url and clicked >= burst_start for clicked, other_url in recent[trace["id"]]
                )
                recent[trace["id"]].append((at, url))
                machine = machine or at - trace["sent_at"] < timedelta(seconds=MACHINE_CLICK_SECONDS) or other_clicks
                event_type = "machine_click" if machine else "click"
            recorded.append(event_type)
            known.append((self._hit_event(trace, event_type, at, url), trace["id"]))
        if known:
            # No provider: Odoo saw it itself. The same ingestion as the webhooks' (dedupe,
            # first times, counters, branches, and whatever else the effects do).
            self._record_events(self.env["email.automation.provider"], known)
        return recorded

    @api.model
    def _tracked_traces(self, trace_ids):
        """What the classification needs of the sent traces among `trace_ids`, by id: their
        times and their Message-Id."""
        # No query when nothing is pending.
        self.env["email.automation.trace"].flush_model(["sent_at", "delivered_at", "message_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT id, sent_at, delivered_at, message_id
                  FROM email_automation_trace
                 WHERE id = ANY(%(ids)s) AND sent_at IS NOT NULL
                """,
                # A signal whose trace was purged has none.
                ids=[trace_id for trace_id in trace_ids if trace_id],
            )
        )
        columns = ("id", "sent_at", "delivered_at", "message_id")
        return {row[0]: dict(zip(columns, row, strict=True)) for row in self.env.cr.fetchall()}

    @api.model
    def _recent_clicks(self, trace_ids, since):
        """The (time, URL) of the clicks on `trace_ids` recorded since `since`, by trace: a
        click on another link of the same e-mail within seconds is a link scanner's."""
        recent = defaultdict(list)
        if not trace_ids:
            return recent
        self.flush_model(["trace_id", "event_type", "url", "occurred_at"])
        self.env.cr.execute(
            SQL(
                """
                SELECT trace_id, occurred_at, url
                  FROM email_automation_event
                 WHERE trace_id = ANY(%(ids)s) AND event_type IN ('click', 'machine_click')
                   AND occurred_at >= %(since)s
                """,
                ids=list(trace_ids),
                since=since,
            )
        )
        for trace_id, occurred_at, url in self.env.cr.fetchall():
            recent[trace_id].append((occurred_at, url))
        return recent

    @api.model
    def _count_link_clicks(self, clicks):
        """Count people's clicks on link_tracker's trackers, as its own /r/ route does:
        `clicks` are (link id, IP address) pairs. The click rows and the trackers' stored
        counts in one statement (the ORM's create would recompute the counts with a grouped
        read)."""
        if not clicks:
            return
        self.env.cr.execute(
            SQL(
                """
                WITH click AS (
                    INSERT INTO link_tracker_click (link_id, campaign_id, ip, create_uid, create_date, write_uid,
                                                    write_date)
                    SELECT link.id, link.campaign_id, new.ip, %(uid)s, now() at time zone 'UTC', %(uid)s,
                           now() at time zone 'UTC'
                      FROM unnest(%(links)s::int[], %(ips)s::varchar[]) AS new(link_id, ip)
                      JOIN link_tracker link ON link.id = new.link_id
                 RETURNING link_id
                )
                UPDATE link_tracker SET count = COALESCE(count, 0) + added.clicks
                  FROM (SELECT link_id, count(*) AS clicks FROM click GROUP BY link_id) added
                 WHERE link_tracker.id = added.link_id
                """,
                links=[link_id for link_id, _ip in clicks],
                ips=[(ip or "")[:255] or None for _link_id, ip in clicks],
                uid=self.env.uid,
            )
        )
        self.env["link.tracker"].invalidate_model(["count"])

    @api.model
    def _hit_event(self, trace, event_type, at, url=None):
        return WebhookEvent(
            event_type=event_type,
            provider_event="pixel" if "open" in event_type else "link",
            message_id=(trace["message_id"] or str(trace["id"])).strip("<>")[:255],
            # To the second: a mail client fetching the pixel twice at once counts once.
            occurred_ms=int(at.replace(tzinfo=timezone.utc).timestamp()) * 1000,
            url=url,
        )
