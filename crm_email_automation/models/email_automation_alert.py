import logging

import psycopg2

from odoo import api, fields, models

_logger = logging.getLogger(__name__)

ALERT_KINDS = [
    ("queue_lag", "Queue lag"),
    ("failure_rate", "Failure rate"),
    ("provider_paused", "Provider paused"),
    ("bounce_rate", "Bounce rate"),
    ("complaint_rate", "Complaint rate"),
]
# The alerts that pause the provider's marketing scenarios when they open.
PAUSING_KINDS = ("bounce_rate", "complaint_rate")


class EmailAutomationAlert(models.Model):
    """An incident the automation managers are told about: opened once when a figure crosses
    its threshold, resolved (with a recovery notice) when it is back under it.

    At most one open alert per incident (kind and scenario or provider), by a unique index:
    a second evaluation, or a second worker, cannot open it twice.
    """

    _name = "email.automation.alert"
    _description = "E-mail Automation Alert"
    _order = "opened_at desc, id desc"
    _rec_name = "kind"

    kind = fields.Selection(ALERT_KINDS, required=True, readonly=True, index=True)
    state = fields.Selection(
        [("open", "Open"), ("resolved", "Resolved")], default="open", required=True, readonly=True, index=True
    )
    incident_key = fields.Char(required=True, readonly=True, help="What makes two alerts the same incident.")
    scenario_id = fields.Many2one("email.automation.scenario", readonly=True, ondelete="cascade", index=True)
    provider_id = fields.Many2one("email.automation.provider", readonly=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", compute="_compute_company_id", store=True, index=True)
    opened_at = fields.Datetime(string="Opened On", required=True, readonly=True, default=fields.Datetime.now)
    resolved_at = fields.Datetime(string="Resolved On", readonly=True)
    value = fields.Float(string="Measured", readonly=True, digits=(16, 2), help="The figure when the alert opened.")
    last_value = fields.Float(string="Latest", readonly=True, digits=(16, 2), help="The figure at the last check.")
    threshold = fields.Float(readonly=True, digits=(16, 2))
    unit = fields.Selection([("minutes", "minutes"), ("percent", "%")], readonly=True)
    sample_size = fields.Integer(string="E-mails Counted", readonly=True)
    summary = fields.Text(readonly=True)
    paused_scenario_ids = fields.Many2many(
        "email.automation.scenario",
        "email_automation_alert_paused_scenario_rel",
        "alert_id",
        "scenario_id",
        string="Scenarios Paused",
        readonly=True,
    )
    activity_ids = fields.Many2many("mail.activity", string="Activities", readonly=True)
    acknowledged_by_id = fields.Many2one("res.users", readonly=True)
    acknowledged_at = fields.Datetime(string="Acknowledged On", readonly=True)

    def init(self):
        # The constraint "one open alert per incident" (a partial unique index: resolved
        # alerts of the same incident stay as history).
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS email_automation_alert_open_uniq
                ON email_automation_alert (incident_key)
             WHERE state = 'open'
            """
        )

    @api.depends("scenario_id.company_id", "provider_id.company_id")
    def _compute_company_id(self):
        for alert in self:
            alert.company_id = alert.scenario_id.company_id or alert.provider_id.company_id

    @api.depends("kind", "scenario_id", "provider_id")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for alert in self:
            subject = alert.scenario_id.display_name or alert.provider_id.display_name
            alert.display_name = f"{kinds.get(alert.kind)}: {subject}" if subject else kinds.get(alert.kind)

    # ------------------------------------------------------------------
    # Manager actions
    # ------------------------------------------------------------------

    def action_acknowledge(self):
        """A manager says they took the alert in hand: their to-do activities are done."""
        self.check_access("read")
        # sudo: managers read alerts and may only acknowledge them (no write right on the model).
        alerts = self.sudo().filtered(lambda a: not a.acknowledged_by_id)
        alerts.write({"acknowledged_by_id": self.env.uid, "acknowledged_at": fields.Datetime.now()})
        alerts.activity_ids.filtered(lambda a: a.user_id == self.env.user).unlink()
        return True

    def action_open_subject(self):
        self.ensure_one()
        subject = self.scenario_id or self.provider_id
        return {
            "type": "ir.actions.act_window",
            "res_model": subject._name,
            "res_id": subject.id,
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------------
    # Evaluation
    # ------------------------------------------------------------------

    @api.model
    def _cron_evaluate(self):
        self._evaluate()

    @api.model
    def _evaluate(self, now=None):
        """Measure every incident, open the new ones, resolve the gone ones. Returns the
        alerts opened and resolved."""
        now = now or fields.Datetime.now()
        # sudo: the cron and the provider hook evaluate for everyone; the figures are aggregates.
        alerts = self.sudo()
        measured = alerts._measure(now)
        open_alerts = {alert.incident_key: alert for alert in alerts.search([("state", "=", "open")])}
        opened = resolved = alerts.browse()
        for key, finding in measured.items():
            alert = open_alerts.get(key)
            if alert and alert.last_value != finding["value"]:
                alert.last_value = finding["value"]
            elif not alert and finding["over"]:
                opened |= alerts._open(key, finding, now)
        for key, alert in open_alerts.items():
            if not measured.get(key, {}).get("over"):
                resolved |= alert._resolve(now)
        return opened, resolved

    @api.model
    def _measure(self, now):
        """{incident key: finding} of every figure measured now, `over` its threshold or not
        (a figure not measured, such as a rate on too few e-mails, is not over)."""
        Metrics = self.env["email.automation.metrics"]
        limits = Metrics._thresholds()
        found = {}
        lag = limits["alert_queue_lag_minutes"]
        if lag > 0:
            age, trace = Metrics._oldest_due(now)
            found["queue_lag"] = self._finding("queue_lag", age / 60, lag, "minutes", scenario=trace.scenario_id)
        failure = limits["alert_failure_rate"]
        if failure > 0:
            since = Metrics._failure_since(limits, now)
            for scenario, (total, failed) in Metrics._failure_counts(since).items():
                if total >= limits["alert_failure_min_count"]:
                    rate = 100.0 * failed / total
                    finding = self._finding("failure_rate", rate, failure, "percent", total, scenario)
                    found[f"failure_rate:{scenario.id}"] = finding
        providers = Metrics._providers()
        for provider in providers.filtered(lambda p: p.state == "paused"):
            found[f"provider_paused:{provider.id}"] = self._finding("provider_paused", 1, 0, provider=provider)
        rates = Metrics._provider_rates(providers, limits["alert_rate_window"])
        for provider, (sends, bounces, complaints) in rates.items():
            if sends < limits["alert_rate_min_sends"]:
                continue
            for kind, count in (("bounce_rate", bounces), ("complaint_rate", complaints)):
                limit = limits[f"alert_{kind}"]
                if limit > 0:
                    finding = self._finding(kind, 100.0 * count / sends, limit, "percent", sends, provider=provider)
                    found[f"{kind}:{provider.id}"] = finding
        return found

    @api.model
    def _finding(self, kind, value, threshold, unit=False, sample=0, scenario=None, provider=None):
        return {
            "kind": kind,
            "over": value > threshold,
            "value": round(value, 2),
            "threshold": threshold,
            "unit": unit,
            "sample_size": sample,
            "scenario_id": scenario.id if scenario else False,
            "provider_id": provider.id if provider else False,
        }

    @api.model
    def _sync_provider_pauses(self, providers):
        """Open or resolve the "provider paused" alerts of `providers` now, rather than at
        the next evaluation: a pause stops every e-mail of the provider."""
        # sudo: a provider's pause is written by the queue or a manager; the alert is everyone's.
        alerts = self.sudo()
        now = fields.Datetime.now()
        keys = {f"provider_paused:{provider.id}": provider for provider in providers}
        open_alerts = alerts.search([("state", "=", "open"), ("incident_key", "in", list(keys))])
        open_keys = set(open_alerts.mapped("incident_key"))
        for key, provider in keys.items():
            if provider.state == "paused" and key not in open_keys:
                alerts._open(key, alerts._finding("provider_paused", 1, 0, provider=provider), now)
        open_alerts.filtered(lambda a: a.provider_id.state != "paused")._resolve(now)

    @api.model
    def _open(self, key, finding, now):
        try:
            with self.env.cr.savepoint():
                values = {name: value for name, value in finding.items() if name != "over"}
                alert = self.create({**values, "incident_key": key, "last_value": finding["value"], "opened_at": now})
                alert.flush_recordset()
        except psycopg2.errors.UniqueViolation:
            # Another transaction opened the same incident at the same moment: it tells.
            return self.browse()
        if alert.kind in PAUSING_KINDS:
            alert._pause_marketing_scenarios()
        alert.summary = alert._in_language()._describe()
        alert._notify_open()
        _logger.warning("E-mail automation alert opened: %s (%s)", key, finding["value"])
        return alert

    def _resolve(self, now):
        if not self:
            return self
        self.write({"state": "resolved", "resolved_at": now})
        for alert in self:
            alert._notify_recovery()
            alert.activity_ids.unlink()
        _logger.info("E-mail automation alert resolved: %s", ", ".join(self.mapped("incident_key")))
        return self

    def _pause_marketing_scenarios(self):
        """Stop the provider's running marketing scenarios from sending to the lists that
        hurt its reputation; transactional e-mail goes on."""
        self.ensure_one()
        scenarios = self.provider_id._running_marketing_scenarios()
        if scenarios:
            scenarios._pause_for_alert(self._in_language()._describe())
            self.paused_scenario_ids = scenarios
