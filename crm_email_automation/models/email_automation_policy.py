import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

import pytz
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, tools
from odoo.tools import SQL, str2bool

_logger = logging.getLogger(__name__)

# Context key that turns the sending policies off; only the benchmark uses it, to measure
# what the policies cost. It is never set by the UI or the module's own code.
SKIP_POLICIES_KEY = "email_automation_skip_policies"
# Context key of the dry runs (test runs, simulations): the policies judge the marketing
# e-mail of a scenario in test mode as they would for real, in a savepoint rolled back after.
DRY_RUN_KEY = "email_automation_policy_dry_run"


class EmailAutomationPolicy(models.AbstractModel):
    """The sending policy, decided per batch of claimed mail traces.

    One batch costs a handful of queries whatever its size: the suppression list, the
    blacklist and the consent states of all recipients at once, one aggregated query of
    the recent marketing sends of all partners (frequency cap), one counter update per
    outgoing channel (rate limit). Quiet hours are computed in Python.
    """

    _name = "email.automation.policy"
    _description = "E-mail Automation Sending Policy"

    @api.model
    def _settings(self):
        get = self.env["ir.config_parameter"].sudo().get_param
        prefix = "crm_email_automation."
        return {
            "consent_policy": get(prefix + "consent_policy") or "opt_in",
            "cap_count": int(get(prefix + "frequency_cap_count", 3) or 0),
            "cap_days": int(get(prefix + "frequency_cap_days", 7) or 0),
            "quiet_hours": str2bool(get(prefix + "quiet_hours", "False") or "False"),
            "window_start": float(get(prefix + "send_window_start", 8.0) or 0.0),
            "window_end": float(get(prefix + "send_window_end", 20.0) or 24.0),
            "send_days": {int(day) for day in (get(prefix + "send_days", "0123456") or "") if day.isdigit()},
            "rate_minute": int(get(prefix + "rate_limit_minute", 0) or 0),
            "rate_hour": int(get(prefix + "rate_limit_hour", 0) or 0),
        }

    # ------------------------------------------------------------------
    # Entry point
    # ------------------------------------------------------------------

    @api.model
    def _apply(self, traces):
        """Skip or defer the claimed mail `traces` the policies forbid, with the reason.

        Order: suppression (every e-mail), then for marketing: blacklist, consent, quiet
        hours, frequency cap; last the rate limit of the outgoing channel (every e-mail).
        """
        if self.env.context.get(SKIP_POLICIES_KEY) or not traces:
            return
        now = fields.Datetime.now()
        settings = self._settings()
        emails = self._trace_emails(traces)

        suppressed = self.env["email.automation.suppression"]._suppressed_emails(emails.values())
        traces.filtered(lambda t: emails.get(t.id) in suppressed)._finish("skipped", "suppressed")

        live = traces.filtered(lambda t: t.state == "processing")
        dry_run = self.env.context.get(DRY_RUN_KEY)
        marketing = live.filtered(lambda t: t.category == "marketing" and (dry_run or not t.scenario_id.is_test_mode))
        if marketing:
            self._check_blacklist(marketing, emails)
            self._check_consent(marketing.filtered(lambda t: t.state == "processing"), settings)
            marketing = marketing.filtered(lambda t: t.state == "processing")
            if settings["quiet_hours"]:
                self._check_quiet_hours(marketing, settings, now)
                marketing = marketing.filtered(lambda t: t.state == "processing")
            self._check_frequency_cap(marketing, settings, now)
        if settings["rate_minute"] > 0 or settings["rate_hour"] > 0:
            self._check_rate_limit(traces.filtered(lambda t: t.state == "processing"), settings, now)

    @api.model
    def _trace_emails(self, traces):
        """{trace id: normalized recipient address or False}."""
        return {
            trace_id: tools.email_normalize(email) if email else False
            for trace_id, (_record, email) in traces._recipients().items()
        }

    # ------------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------------

    @api.model
    def _check_blacklist(self, traces, emails):
        blacklisted = self._blacklisted_emails({emails[t.id] for t in traces if emails.get(t.id)})
        traces.filtered(lambda t: emails.get(t.id) in blacklisted)._finish("skipped", "blacklisted")

    @api.model
    def _blacklisted_emails(self, addresses):
        """The normalized `addresses` on Odoo's blacklist (one query)."""
        if not addresses:
            return set()
        # sudo: the blacklist is consulted for every recipient, whoever runs the queue.
        return set(
            self.env["mail.blacklist"]
            .sudo()
            .search_fetch([("email", "in", list(addresses))], ["email"])
            .mapped("email")
        )

    @api.model
    def _consent_refused_states(self, settings):
        """The consent states of a recipient that marketing e-mail is skipped for; None
        stands for a recipient without a contact."""
        # "pending" (a double opt-in asked, not confirmed) is never mailable, in opt-out mode too.
        if settings["consent_policy"] == "opt_out":
            return {"withdrawn", "pending"}
        return {"withdrawn", "pending", "unknown", None}

    @api.model
    def _check_consent(self, traces, settings):
        states = {partner.id: partner.email_consent_state for partner in traces.partner_id.sudo()}
        withdrawn = traces.filtered(lambda t: states.get(t.partner_id.id) == "withdrawn")
        withdrawn._finish("skipped", "consent_withdrawn")
        refused = self._consent_refused_states(settings)
        (traces - withdrawn).filtered(lambda t: states.get(t.partner_id.id) in refused)._finish("skipped", "no_consent")

    @api.model
    def _check_quiet_hours(self, traces, settings, now):
        company_tz = self.env.company.partner_id.tz or "UTC"
        deferred = {}
        for trace in traces:
            tz_name = trace.partner_id.tz or trace.company_id.partner_id.tz or company_tz
            next_start = self._next_window_start(now, tz_name, settings)
            if next_start:
                deferred[trace.id] = next_start
        self.env["email.automation.trace"]._defer(deferred, "quiet_hours")

    @api.model
    def _next_window_start(self, now, tz_name, settings):
        """None when `now` (naive UTC) is inside the send window of time zone `tz_name`,
        else the naive UTC moment the next window opens.

        The window's start is a local wall-clock time: on a daylight-saving night it may
        not exist (then the first instant after the gap) or happen twice (then the first).
        """
        days = settings["send_days"]
        start, end = settings["window_start"], settings["window_end"]
        if not days or (start <= 0 and end >= 24 and len(days) == 7):
            return None
        try:
            tz = pytz.timezone(tz_name)
        except pytz.UnknownTimeZoneError:
            tz = pytz.utc
        local = pytz.utc.localize(now).astimezone(tz)
        hours = local.hour + local.minute / 60 + local.second / 3600
        if local.weekday() in days and start <= hours < end:
            return None
        start_time = time(min(int(start), 23), round((start % 1) * 60) % 60)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in days:
                continue
            candidate = self._localize(tz, datetime.combine(day, start_time))
            if candidate > now:
                return candidate
        return None

    @api.model
    def _localize(self, tz, naive_local):
        """The naive UTC moment of a local wall-clock time, valid across DST changes."""
        try:
            aware = tz.localize(naive_local, is_dst=None)
        except pytz.AmbiguousTimeError:
            aware = tz.localize(naive_local, is_dst=True)  # the first of the two
        except pytz.NonExistentTimeError:
            # In the gap: the first instant whose wall-clock time is not earlier, that is
            # the moment the clocks jumped (found by bisection between both readings).
            low = tz.localize(naive_local, is_dst=True).astimezone(pytz.utc)
            high = tz.localize(naive_local, is_dst=False).astimezone(pytz.utc)
            low, high = min(low, high), max(low, high)
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).replace(tzinfo=None) >= naive_local:
                    high = middle
                else:
                    low = middle
            aware = high.replace(microsecond=0)
        return aware.astimezone(pytz.utc).replace(tzinfo=None)

    @api.model
    def _cap_of(self, trace, settings):
        """(count, days) of the cap that applies to `trace`, or None when uncapped."""
        scenario = trace.scenario_id
        if scenario.frequency_cap_mode == "custom":
            count, days = scenario.frequency_cap_count, scenario.frequency_cap_days
        elif scenario.frequency_cap_mode == "none":
            count, days = 0, settings["cap_days"] or 7
        else:
            count, days = settings["cap_count"], settings["cap_days"]
        partner_count = trace.partner_id.sudo().email_automation_cap_count
        if partner_count:
            count = partner_count
        if count <= 0 or days <= 0:
            return None
        return count, days

    @api.model
    def _check_frequency_cap(self, traces, settings, now):
        caps = {trace.id: self._cap_of(trace, settings) for trace in traces if trace.partner_id}
        capped_traces = traces.filtered(lambda t: caps.get(t.id))
        if not capped_traces:
            return
        since = now - timedelta(days=max(cap[1] for cap in caps.values() if cap))
        # One aggregated query for the batch (index email_automation_trace_marketing_sent_idx).
        self.env["email.automation.trace"].flush_model(["category", "sent_at", "partner_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT partner_id, array_agg(sent_at ORDER BY sent_at)
                  FROM email_automation_trace
                 WHERE category = 'marketing'
                   AND sent_at IS NOT NULL
                   AND is_test IS NOT TRUE
                   AND sent_at > %(since)s
                   AND partner_id = ANY(%(partner_ids)s)
              GROUP BY partner_id
                """,
                since=since,
                partner_ids=capped_traces.partner_id.ids,
            )
        )
        sends = defaultdict(list, {partner_id: list(dates) for partner_id, dates in self.env.cr.fetchall()})
        deferred, skipped = {}, self.env["email.automation.trace"]
        for trace in capped_traces.sorted(lambda t: (t.scheduled_at, t.id)):
            count, days = caps[trace.id]
            period = timedelta(days=days)
            recent = sorted(date for date in sends[trace.partner_id.id] if date > now - period)
            if len(recent) < count:
                # Counted for the rest of the batch (two steps due for the same partner).
                sends[trace.partner_id.id].append(now)
                continue
            if trace.scenario_id.frequency_cap_action == "skip":
                skipped |= trace
            else:
                # The cap frees when enough of the recent sends leave the period.
                deferred[trace.id] = recent[len(recent) - count] + period + timedelta(seconds=1)
        skipped._finish("skipped", "frequency_cap")
        self.env["email.automation.trace"]._defer(deferred, "frequency_cap")

    @api.model
    def _rate_limit_channel(self, scenario):
        """The outgoing channel whose rate `scenario`'s e-mails count against: its provider,
        and for SMTP providers the mail server too (each server has its own limits)."""
        provider = scenario._get_provider()
        if not provider:
            return str(provider._smtp_server(scenario).id or "default")
        if provider.kind == "smtp":
            return f"provider-{provider.id}-server-{provider._smtp_server(scenario).id or 'default'}"
        return f"provider-{provider.id}"

    @api.model
    def _check_rate_limit(self, traces, settings, now):
        by_channel = defaultdict(list)
        channels = {}
        for trace in traces.sorted(lambda t: (t.scheduled_at, t.id)):
            scenario = trace.scenario_id
            if scenario not in channels:
                channels[scenario] = self._rate_limit_channel(scenario)
            by_channel[channels[scenario]].append(trace.id)
        limits = {"minute": settings["rate_minute"], "hour": settings["rate_hour"]}
        Counter = self.env["email.automation.rate.counter"]
        deferred = {}
        for channel, trace_ids in by_channel.items():
            granted, retry_at = Counter._reserve(channel, len(trace_ids), limits, now)
            for trace_id in trace_ids[granted:]:
                deferred[trace_id] = retry_at
        self.env["email.automation.trace"]._defer(deferred, "rate_limit")

    # ------------------------------------------------------------------
    # Retention
    # ------------------------------------------------------------------

    @api.model
    def _cron_purge_history(self):
        """Delete finished traces (and their events) older than the retention period."""
        months = int(self.env["ir.config_parameter"].sudo().get_param("crm_email_automation.retention_months", 24))
        self.env["email.automation.rate.counter"]._purge()
        if months <= 0:
            return 0
        cutoff = fields.Datetime.now() - relativedelta(months=months)
        Trace = self.env["email.automation.trace"].sudo()
        old = Trace.search(
            [
                ("state", "in", ("sent", "skipped", "failed", "cancelled")),
                "|",
                ("processed_at", "<", cutoff),
                "&",
                ("processed_at", "=", False),
                ("create_date", "<", cutoff),
            ]
        )
        if "email.automation.event" in self.env:
            Event = self.env["email.automation.event"].sudo()
            Event.search(["|", ("trace_id", "in", old.ids), ("create_date", "<", cutoff)]).unlink()
        count = len(old)
        old.unlink()
        if count:
            _logger.info("E-mail automation: purged %s trace(s) older than %s months", count, months)
        return count
