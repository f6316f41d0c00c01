"""The figures behind /email_automation/metrics and the alerts: aggregates only.

Every figure is one `_read_group` (or one search per provider for the bounce and complaint
rates), never a loop over traces: a scrape every 15 seconds must cost the same with 1,000 or
1,000,000 traces. Test traces (`is_test`) are left out, as everywhere else.
"""

import secrets
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

PREFIX = "crm_email_automation."
TOKEN_PARAMETER = PREFIX + "metrics_token"
# The event types counted as bounces: the address does not exist or refuses mail for good.
# Soft bounces are temporary and retried; they do not count (as mailbox providers count).
BOUNCE_EVENTS = ("hard_bounce", "invalid_email")
COMPLAINT_EVENTS = ("spam",)
# The alert thresholds and their defaults (system parameters, see res_config_settings_alert.py).
ALERT_PARAMETERS = {
    "alert_queue_lag_minutes": (int, 15),
    "alert_failure_rate": (float, 10.0),
    "alert_failure_window_minutes": (int, 60),
    "alert_failure_min_count": (int, 10),
    "alert_bounce_rate": (float, 2.0),
    "alert_complaint_rate": (float, 0.3),
    "alert_rate_window": (int, 1000),
    "alert_rate_min_sends": (int, 100),
}


class EmailAutomationMetrics(models.AbstractModel):
    _name = "email.automation.metrics"
    _description = "E-mail Automation Metrics"

    # ------------------------------------------------------------------
    # Token and thresholds
    # ------------------------------------------------------------------

    @api.model
    def _token(self):
        # sudo: the token is a system parameter; only its comparison leaves this method's caller.
        return self.env["ir.config_parameter"].sudo().get_param(TOKEN_PARAMETER) or ""

    @api.model
    def _regenerate_token(self):
        token = secrets.token_urlsafe(32)
        # sudo: the caller's right was checked (settings are for system administrators).
        self.env["ir.config_parameter"].sudo().set_param(TOKEN_PARAMETER, token)
        return token

    @api.model
    def _thresholds(self):
        # sudo: system parameters; the thresholds are read by the alert cron and the metrics route.
        get = self.env["ir.config_parameter"].sudo().get_param
        values = {}
        for name, (kind, default) in ALERT_PARAMETERS.items():
            try:
                values[name] = kind(get(PREFIX + name, default))
            except (TypeError, ValueError):
                values[name] = default
        return values

    # ------------------------------------------------------------------
    # Queue
    # ------------------------------------------------------------------

    @api.model
    def _queue_depth(self):
        """{state: traces}, every state present (0 when none)."""
        Trace = self.env["email.automation.trace"]
        depth = dict.fromkeys(dict(Trace._fields["state"].selection), 0)
        for state, count in Trace._read_group([("is_test", "=", False)], ["state"], ["__count"]):
            depth[state] = count
        return depth

    @api.model
    def _oldest_due(self, now=None):
        """(age in seconds, trace) of the oldest trace due now in a running scenario (0, empty
        when none is due). Paused scenarios' traces wait on purpose and are not lag."""
        now = now or fields.Datetime.now()
        Trace = self.env["email.automation.trace"]
        oldest = Trace.search(
            [
                ("state", "=", "scheduled"),
                ("scheduled_at", "<=", now),
                ("is_test", "=", False),
                ("scenario_id.state", "=", "running"),
            ],
            order="scheduled_at, id",
            limit=1,
        )
        if not oldest:
            return 0.0, oldest
        return max((now - oldest.scheduled_at).total_seconds(), 0.0), oldest

    @api.model
    def _intake(self, now=None):
        """(waiting, failed, age in seconds of the oldest waiting) tracking signals of the
        intake: pixel fetches, clicks and webhook requests not recorded yet."""
        now = now or fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL),
                       min(received_at) FILTER (WHERE error IS NULL)
                  FROM email_automation_intake
                """
            )
        )
        waiting, failed, oldest = self.env.cr.fetchone()
        return waiting, failed, max((now - oldest).total_seconds(), 0.0) if oldest else 0.0

    # ------------------------------------------------------------------
    # Counters from the traces
    # ------------------------------------------------------------------

    @api.model
    def _trace_totals(self):
        """[(scenario, provider, state, count)] of the sent and failed traces, and of the
        traces waiting after a deferral (state scheduled, a reason), with their reason.

        A trace names its provider once sent; before that, the provider its scenario sends
        through (resolved once per scenario, not per trace)."""
        Trace = self.env["email.automation.trace"]
        groups = Trace._read_group(
            [("is_test", "=", False), ("state", "in", ("sent", "failed"))],
            ["scenario_id", "provider_id", "state"],
            ["__count"],
        )
        deferred = Trace._read_group(
            [("is_test", "=", False), ("state", "=", "scheduled"), ("reason", "!=", False)],
            ["scenario_id", "provider_id", "reason"],
            ["__count"],
        )
        providers = {}
        rows = []
        for scenario, provider, state, count in groups:
            rows.append((scenario, provider or self._scenario_provider(scenario, providers), state, None, count))
        for scenario, provider, reason, count in deferred:
            rows.append((scenario, provider or self._scenario_provider(scenario, providers), "deferred", reason, count))
        return rows

    @api.model
    def _scenario_provider(self, scenario, cache):
        if scenario not in cache:
            cache[scenario] = scenario._get_provider() if scenario else self.env["email.automation.provider"]
        return cache[scenario]

    @api.model
    def _event_totals(self):
        """[(provider, event type, count)] of the tracking events (webhooks and Odoo's own
        tracking, the latter with no provider)."""
        return self.env["email.automation.event"]._read_group(
            [("trace_id.is_test", "=", False)], ["provider_id", "event_type"], ["__count"]
        )

    # ------------------------------------------------------------------
    # Providers: state, bounce and complaint rates
    # ------------------------------------------------------------------

    @api.model
    def _providers(self):
        return (
            self.env["email.automation.provider"]
            .with_context(active_test=True)
            .search([("state", "in", ("active", "paused"))])
        )

    @api.model
    def _provider_rates(self, providers=None, window=None):
        """{provider: (sends, bounces, complaints)} over each provider's last `window` sends:
        how many of those e-mails hard-bounced and how many were reported as spam (mailbox
        providers' bulk sender rules count per e-mail sent)."""
        window = window or self._thresholds()["alert_rate_window"]
        providers = self._providers() if providers is None else providers
        Trace = self.env["email.automation.trace"]
        Event = self.env["email.automation.event"]
        rates = {}
        for provider in providers:
            # One provider at a time: "the last N sends of each" is a limit per provider,
            # served by the partial index of email_automation_trace_metrics.py.
            recent = Trace.search(
                [("provider_id", "=", provider.id), ("state", "=", "sent"), ("is_test", "=", False)],
                order="sent_at desc, id desc",
                limit=window,
            )
            counts = defaultdict(int)
            if recent:
                for event_type, traces in Event._read_group(
                    [("trace_id", "in", recent.ids), ("event_type", "in", BOUNCE_EVENTS + COMPLAINT_EVENTS)],
                    ["event_type"],
                    ["trace_id:count_distinct"],
                ):
                    counts["complaints" if event_type in COMPLAINT_EVENTS else "bounces"] += traces
            rates[provider] = (len(recent), counts["bounces"], counts["complaints"])
        return rates

    # ------------------------------------------------------------------
    # Failure rate per scenario
    # ------------------------------------------------------------------

    @api.model
    def _failure_counts(self, since):
        """{scenario: (processed, failed)}: e-mails sent or failed since `since`."""
        counts = defaultdict(lambda: [0, 0])
        for scenario, state, count in self.env["email.automation.trace"]._read_group(
            [("is_test", "=", False), ("state", "in", ("sent", "failed")), ("processed_at", ">=", since)],
            ["scenario_id", "state"],
            ["__count"],
        ):
            counts[scenario][0] += count
            if state == "failed":
                counts[scenario][1] += count
        return {scenario: tuple(values) for scenario, values in counts.items()}

    @api.model
    def _failure_since(self, thresholds, now=None):
        return (now or fields.Datetime.now()) - timedelta(minutes=thresholds["alert_failure_window_minutes"])
