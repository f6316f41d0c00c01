from odoo import fields, models
from odoo.tools import SQL


class EmailAutomationReport(models.Model):
    """The managers' dashboard: one row per e-mail sent and one per conversion.

    Counts are summed and rates averaged by the pivot: a rate column holds 100 or 0 on an
    e-mail's row and nothing on a conversion's row, so its average over any group is the
    rate of that group's e-mails. Test e-mails are left out; conversions of the holdout too
    (they were not mailed).
    """

    _name = "email.automation.report"
    _description = "E-mail Automation Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "scenario_id"
    # What the query reads: flushed before the report is read.
    _depends = {
        "email.automation.trace": [
            "scenario_id",
            "step_id",
            "variant_id",
            "company_id",
            "sent_at",
            "message_id",
            "is_test",
            "delivered_at",
            "opened_at",
            "clicked_at",
            "bounced_at",
        ],
        "email.automation.event": ["trace_id", "event_type"],
        "email.automation.participant": [
            "scenario_id",
            "company_id",
            "converted_at",
            "is_holdout",
            "conversion_trace_id",
        ],
    }

    date = fields.Datetime(readonly=True)
    kind = fields.Selection([("mail", "E-mail"), ("conversion", "Conversion")], readonly=True)
    scenario_id = fields.Many2one("email.automation.scenario", readonly=True)
    step_id = fields.Many2one("email.automation.step", readonly=True)
    variant_id = fields.Many2one(
        "email.automation.variant",
        string="A/B Variant",
        readonly=True,
        help="The variant of the e-mail; for a conversion, of the e-mail it is attributed to.",
    )
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id", readonly=True)
    sent_count = fields.Integer(string="Sent", readonly=True)
    delivered_count = fields.Integer(string="Delivered", readonly=True)
    opened_count = fields.Integer(string="Opened", readonly=True, help="Opened by people (not by privacy proxies).")
    clicked_count = fields.Integer(string="Clicked", readonly=True)
    bounced_count = fields.Integer(string="Bounced", readonly=True)
    unsubscribed_count = fields.Integer(string="Unsubscribed", readonly=True)
    conversion_count = fields.Integer(string="Conversions", readonly=True)
    revenue = fields.Monetary(readonly=True, currency_field="currency_id")
    delivered_rate = fields.Float(string="Delivery Rate (%)", readonly=True, aggregator="avg")
    open_rate = fields.Float(string="Open Rate (%)", readonly=True, aggregator="avg")
    click_rate = fields.Float(string="Click Rate (%)", readonly=True, aggregator="avg")
    bounce_rate = fields.Float(string="Bounce Rate (%)", readonly=True, aggregator="avg")
    unsubscribe_rate = fields.Float(string="Unsubscribe Rate (%)", readonly=True, aggregator="avg")

    @property
    def _table_query(self):
        return SQL("%s UNION ALL %s", self._query_mails(), self._query_conversions())

    def _query_mails(self):
        # An e-mail is sent when the server or the provider accepted it (a Message-ID).
        return SQL(
            """
            SELECT t.id * 2 AS id, t.sent_at AS date, 'mail' AS kind,
                   t.scenario_id, t.step_id, t.variant_id, t.company_id,
                   1 AS sent_count,
                   (t.delivered_at IS NOT NULL)::int AS delivered_count,
                   (t.opened_at IS NOT NULL)::int AS opened_count,
                   (t.clicked_at IS NOT NULL)::int AS clicked_count,
                   (t.bounced_at IS NOT NULL)::int AS bounced_count,
                   (unsub.trace_id IS NOT NULL)::int AS unsubscribed_count,
                   0 AS conversion_count, 0.0 AS revenue,
                   CASE WHEN t.delivered_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS delivered_rate,
                   CASE WHEN t.opened_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS open_rate,
                   CASE WHEN t.clicked_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS click_rate,
                   CASE WHEN t.bounced_at IS NOT NULL THEN 100.0 ELSE 0.0 END AS bounce_rate,
                   CASE WHEN unsub.trace_id IS NOT NULL THEN 100.0 ELSE 0.0 END AS unsubscribe_rate
              FROM email_automation_trace t
              LEFT JOIN (SELECT DISTINCT trace_id FROM email_automation_event
                          WHERE event_type = 'unsubscribe') unsub ON unsub.trace_id = t.id
             WHERE t.sent_at IS NOT NULL AND t.message_id IS NOT NULL AND t.is_test IS NOT TRUE
            """
        )

    def _query_conversions(self):
        Participant = self.env["email.automation.participant"]
        step = SQL("p.conversion_step_id") if self._is_stored(Participant, "conversion_step_id") else SQL("NULL::int")
        attributed_trace = (
            SQL("p.conversion_trace_id") if self._is_stored(Participant, "conversion_trace_id") else SQL("NULL::int")
        )
        revenue = SQL("COALESCE(p.revenue, 0.0)") if self._is_stored(Participant, "revenue") else SQL("0.0")
        return SQL(
            """
            SELECT p.id * 2 + 1 AS id, p.converted_at AS date, 'conversion' AS kind,
                   p.scenario_id, %(step)s AS step_id, attributed.variant_id, p.company_id,
                   0, 0, 0, 0, 0, 0,
                   1 AS conversion_count, %(revenue)s AS revenue,
                   NULL, NULL, NULL, NULL, NULL
              FROM email_automation_participant p
              LEFT JOIN email_automation_trace attributed ON attributed.id = %(attributed_trace)s
             WHERE p.converted_at IS NOT NULL AND p.is_holdout IS NOT TRUE
            """,
            step=step,
            revenue=revenue,
            attributed_trace=attributed_trace,
        )

    @staticmethod
    def _is_stored(model, field_name):
        field = model._fields.get(field_name)
        return bool(field and field.store)
