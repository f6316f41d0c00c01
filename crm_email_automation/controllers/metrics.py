"""Prometheus metrics and a health check, for machines.

`/email_automation/metrics` answers the Prometheus text format, built with the
`prometheus_client` library: a fresh registry per request (no state shared between
databases or workers), filled from aggregate queries. It needs the metrics token (Settings >
E-mail Automation > Monitoring), as `Authorization: Bearer <token>` or `?token=<token>`.
`/email_automation/health` answers JSON for load balancers, without a token and without
business figures.
"""

import hmac
import logging

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from odoo import SUPERUSER_ID, http
from odoo.http import request

_logger = logging.getLogger(__name__)

# auth="none": a scraper has no session and Odoo prepares no user for it; readonly: a
# read-only cursor (a replica where Odoo has one).
ROUTE_OPTIONS = {"type": "http", "auth": "none", "methods": ["GET"], "csrf": False, "save_session": False}
NO_STORE = ("Cache-Control", "no-store")
# The text format every Prometheus version reads (the library's "latest", 1.0.0, is for
# UTF-8 metric names, which these are not).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class EmailAutomationMetricsCollector:
    """A prometheus_client collector over one snapshot of the figures."""

    def __init__(self, env):
        self.env = env

    def collect(self):
        Metrics = self.env["email.automation.metrics"]
        yield from self._queue(Metrics)
        yield from self._traces(Metrics)
        yield from self._events(Metrics)
        yield from self._providers(Metrics)

    def _queue(self, Metrics):
        depth = GaugeMetricFamily(
            "email_automation_queue_traces", "Steps in the queue by state (test runs excluded).", labels=["state"]
        )
        for state, count in Metrics._queue_depth().items():
            depth.add_metric([state], count)
        yield depth
        age, _trace = Metrics._oldest_due()
        yield GaugeMetricFamily(
            "email_automation_queue_oldest_due_age_seconds",
            "How long the oldest step due now in a running scenario has waited (0: none due).",
            value=age,
        )
        waiting, failed, intake_age = Metrics._intake()
        intake = GaugeMetricFamily(
            "email_automation_intake_signals",
            "Tracking signals (pixel fetches, clicks, webhook requests) not recorded yet, by state.",
            labels=["state"],
        )
        intake.add_metric(["waiting"], waiting)
        intake.add_metric(["failed"], failed)
        yield intake
        yield GaugeMetricFamily(
            "email_automation_intake_oldest_age_seconds",
            "How long the oldest tracking signal waiting to be recorded has waited (0: none).",
            value=intake_age,
        )

    def _traces(self, Metrics):
        labels = ["scenario_id", "scenario", "provider_id", "provider"]
        sent = CounterMetricFamily(
            "email_automation_traces_sent", "E-mails sent, from the steps kept in the database.", labels=labels
        )
        failed = CounterMetricFamily(
            "email_automation_traces_failed", "Steps failed, from the steps kept in the database.", labels=labels
        )
        deferred = GaugeMetricFamily(
            "email_automation_traces_deferred",
            "Steps waiting after a deferral (cap, quiet hours, rate limit, provider), by reason.",
            labels=[*labels, "reason"],
        )
        for scenario, provider, state, reason, count in Metrics._trace_totals():
            values = [str(scenario.id or ""), scenario.name or "", str(provider.id or ""), provider.name or ""]
            if state == "deferred":
                deferred.add_metric([*values, reason], count)
            else:
                (sent if state == "sent" else failed).add_metric(values, count)
        yield from (sent, failed, deferred)

    def _events(self, Metrics):
        events = CounterMetricFamily(
            "email_automation_tracking_events",
            "Tracking events stored, from provider webhooks and Odoo's own tracking (no provider).",
            labels=["provider_id", "provider", "event"],
        )
        for provider, event_type, count in Metrics._event_totals():
            events.add_metric([str(provider.id or ""), provider.name or "", event_type], count)
        yield events

    def _providers(self, Metrics):
        labels = ["provider_id", "provider", "kind"]
        paused = GaugeMetricFamily(
            "email_automation_provider_paused", "1 when the provider is paused, 0 when it sends.", labels=labels
        )
        window = GaugeMetricFamily(
            "email_automation_provider_recent_sends",
            "E-mails the bounce and complaint rates are computed over (the provider's last sends).",
            labels=labels,
        )
        bounce = GaugeMetricFamily(
            "email_automation_provider_bounce_ratio",
            "Share of the provider's last sends that hard-bounced (0 to 1).",
            labels=labels,
        )
        complaint = GaugeMetricFamily(
            "email_automation_provider_complaint_ratio",
            "Share of the provider's last sends reported as spam (0 to 1).",
            labels=labels,
        )
        for provider, (sends, bounces, complaints) in Metrics._provider_rates().items():
            values = [str(provider.id), provider.name or "", provider.kind]
            paused.add_metric(values, 1 if provider.state == "paused" else 0)
            window.add_metric(values, sends)
            bounce.add_metric(values, bounces / sends if sends else 0)
            complaint.add_metric(values, complaints / sends if sends else 0)
        yield from (paused, window, bounce, complaint)


class EmailAutomationMetrics(http.Controller):
    @http.route("/email_automation/metrics", **ROUTE_OPTIONS)
    def metrics(self, **_params):
        if not request.db:
            return self._json({"error": "no database"}, 404)
        env = self._env()
        refusal = self._check_token(env)
        if refusal:
            return refusal
        registry = CollectorRegistry(auto_describe=False)
        registry.register(EmailAutomationMetricsCollector(env))
        return request.make_response(generate_latest(registry), headers=[("Content-Type", CONTENT_TYPE), NO_STORE])

    @http.route("/email_automation/health", **ROUTE_OPTIONS)
    def health(self, **_params):
        if not request.db:
            return self._json({"status": "error", "database": "unavailable"}, 503)
        try:
            request.env.cr.execute("SELECT 1")
        except Exception:
            _logger.exception("E-mail automation health check: the database does not answer")
            return self._json({"status": "error", "database": "unavailable"}, 503)
        return self._json({"status": "ok", "database": "ok"}, 200)

    def _env(self):
        # sudo: the scraper is anonymous (auth="none"); it gets aggregate figures only,
        # once its token is checked.
        return request.env(user=SUPERUSER_ID, su=True)

    def _check_token(self, env):
        """None when the request carries the metrics token; else the refusal: 401 without a
        token, 403 with a wrong one (or when no token is set). The comparison takes the same
        time whatever the token; the answers name nothing of the database."""
        http_request = request.httprequest
        header = http_request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else http_request.args.get("token", "")
        if not given:
            response = self._json({"error": "token required"}, 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="email_automation_metrics"'
            return response
        expected = env["email.automation.metrics"]._token()
        # Compared even when no token is set, so that the answer takes the same time.
        if not hmac.compare_digest(given.encode(), (expected or "\0" * 43).encode()) or not expected:
            return self._json({"error": "invalid token"}, 403)
        return None

    def _json(self, data, status):
        return request.make_json_response(data, headers=[NO_STORE], status=status)
