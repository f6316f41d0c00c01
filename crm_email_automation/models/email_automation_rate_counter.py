from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


class EmailAutomationRateCounter(models.Model):
    """E-mails handed to each outgoing channel per fixed minute and hour window.

    Workers reserve their share with an upsert that locks the window's row until their
    short reservation transaction commits, so that several workers together never exceed
    the limit.
    """

    _name = "email.automation.rate.counter"
    _description = "E-mail Automation Rate Counter"
    _log_access = False

    channel = fields.Char(required=True)
    period = fields.Selection([("minute", "Minute"), ("hour", "Hour")], required=True)
    period_start = fields.Datetime(required=True)
    count = fields.Integer()

    _sql_constraints = [
        ("window_uniq", "unique(channel, period, period_start)", "One counter per channel and window."),
    ]

    @api.model
    def _window_start(self, period, now):
        if period == "minute":
            return now.replace(second=0, microsecond=0)
        return now.replace(minute=0, second=0, microsecond=0)

    @api.model
    def _reserve(self, channel, wanted, limits, now):
        """Reserve up to `wanted` sends on `channel`; return (granted, when to retry the rest).

        When the queue commits as it goes (the cron), the reservation runs in a short
        transaction of its own, in READ COMMITTED, committed at once: it must see what other
        workers reserved since this worker's snapshot, and must not hold the window's row
        lock while e-mails are sent.
        """
        if not self.env.context.get("email_automation_auto_commit"):
            # Inside a caller's transaction that must not commit (a test, a manual run).
            return self._reserve_in(self.env.cr, channel, wanted, limits, now)
        registry = self.env.registry
        with registry.cursor() as cr:
            if not registry.in_test_mode():
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            return self._reserve_in(cr, channel, wanted, limits, now)

    @api.model
    def _reserve_in(self, cr, channel, wanted, limits, now):
        granted = wanted
        retry_at = None
        rows = []
        for period, limit in sorted(limits.items()):
            if limit <= 0:
                continue
            start = self._window_start(period, now)
            # The upsert takes the row lock: a concurrent worker waits here until we commit.
            cr.execute(
                SQL(
                    """
                    INSERT INTO email_automation_rate_counter (channel, period, period_start, count)
                         VALUES (%(channel)s, %(period)s, %(start)s, 0)
                    ON CONFLICT (channel, period, period_start)
                      DO UPDATE SET count = email_automation_rate_counter.count
                      RETURNING id, count
                    """,
                    channel=channel,
                    period=period,
                    start=start,
                )
            )
            row_id, used = cr.fetchone()
            rows.append(row_id)
            available = max(limit - used, 0)
            if available < granted:
                granted = available
                retry_at = max(retry_at or start, start + PERIODS[period])
        if granted and rows:
            cr.execute(
                SQL(
                    "UPDATE email_automation_rate_counter SET count = count + %(n)s WHERE id = ANY(%(ids)s)",
                    n=granted,
                    ids=rows,
                )
            )
        return granted, retry_at

    @api.model
    def _purge(self):
        self.env.cr.execute(
            SQL(
                "DELETE FROM email_automation_rate_counter WHERE period_start < %(limit)s",
                limit=fields.Datetime.now() - timedelta(days=1),
            )
        )
