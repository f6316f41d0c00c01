from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError

# The human engagement that makes a touch (machine opens and link scanners do not).
TOUCH_EVENT_TYPES = ("open", "click")
# Written by the module only: a user cannot forge a conversion or its revenue.
CONVERSION_FIELDS = {
    "converted_at",
    "conversion_trace_id",
    "conversion_step_id",
    "preceding_step_id",
    "revenue",
    "currency_id",
}
DEFAULT_ATTRIBUTION_DAYS = 7
DEFAULT_CONVERSION_DAYS = 30


class EmailAutomationParticipant(models.Model):
    """Conversions: when the goal was reached, the e-mail touch it is attributed to (last
    touch within the attribution window) and the revenue it brought, in the company
    currency."""

    _inherit = "email.automation.participant"  # pylint: disable=consider-merging-classes-inherited

    conversion_trace_id = fields.Many2one(
        "email.automation.trace",
        string="Attributed E-mail",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="The last e-mail opened or clicked before the conversion, within the attribution window.",
    )
    conversion_step_id = fields.Many2one(
        "email.automation.step",
        string="Attributed Step",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="The step of the attributed e-mail. Empty for a conversion without an open or click "
        "within the attribution window: the conversion counts, no step gets it.",
    )
    preceding_step_id = fields.Many2one(
        "email.automation.step",
        string="Step Before Conversion",
        readonly=True,
        ondelete="set null",
        help="The last step done for the participant before it converted, whether or not its e-mail was opened.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    revenue = fields.Monetary(
        readonly=True,
        help="The confirmed order's untaxed amount, or the won lead's expected revenue, in the company currency.",
    )
    is_attributed = fields.Boolean(
        string="Attributed",
        compute="_compute_is_attributed",
        search="_search_is_attributed",
        help="The conversion followed an open or click within the attribution window.",
    )

    def _compute_is_attributed(self):
        for participant in self:
            participant.is_attributed = bool(participant.conversion_step_id)

    def _search_is_attributed(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(self.env._("Unsupported search on the attribution."))
        attributed = (operator == "=") == value
        return [("conversion_step_id", "!=" if attributed else "=", False)]

    def write(self, vals):
        if CONVERSION_FIELDS & set(vals) and not self.env.su:
            raise AccessError(self.env._("Conversions and their revenue are recorded by the scenario only."))
        return super().write(vals)

    # ------------------------------------------------------------------
    # Settings
    # ------------------------------------------------------------------

    @api.model
    def _conversion_setting(self, key, default):
        # sudo: reading two numeric settings of the module.
        value = self.env["ir.config_parameter"].sudo().get_param(f"crm_email_automation.{key}", default)
        try:
            return max(0, int(value))
        except (TypeError, ValueError):
            return default

    @api.model
    def _attribution_window(self):
        return timedelta(days=self._conversion_setting("attribution_days", DEFAULT_ATTRIBUTION_DAYS))

    @api.model
    def _conversion_window(self):
        return timedelta(days=self._conversion_setting("conversion_days", DEFAULT_CONVERSION_DAYS))

    # ------------------------------------------------------------------
    # Recording a conversion
    # ------------------------------------------------------------------

    def _end(self, state, reason=False):
        result = super()._end(state, reason)
        if state == "converted":
            self._record_conversion()
        return result

    def _convert(self, reached_at=None):
        """Convert the participants `self` (running, or completed within the conversion
        window) whose record reached the goal; `reached_at`: {participant id: when the
        record changed}, default now."""
        reached_at = reached_at or {}
        running = self.filtered(lambda p: p.state == "running")
        completed = self.filtered(lambda p: p.state == "completed")
        # sudo: conversions are recorded by the module, whoever changed the record.
        running.sudo().with_context(email_automation_reached_at=reached_at)._end("converted", "goal_reached")
        if completed:
            completed.sudo().write({"state": "converted", "exit_reason": "goal_reached"})
            completed.with_context(email_automation_reached_at=reached_at)._record_conversion()
        return running | completed

    def _record_conversion(self):
        """Time, attributed trace and step, and revenue of the conversions `self`, in batch."""
        if not self:
            return
        reached_at = self.env.context.get("email_automation_reached_at") or {}
        now = fields.Datetime.now()
        # The time of the change, never before the enrolment (a record enrolled when it had
        # already reached the goal converts at once).
        when = {p.id: max(p.enrolled_at, min(reached_at.get(p.id) or now, p.converted_at or now)) for p in self}
        touches = self._last_touches(when)
        preceding = self._preceding_traces(when)
        revenue = self._conversion_revenue()
        # sudo: the conversion fields are the module's to write (see write()).
        for participant in self.sudo():
            trace = touches.get(participant.id)
            participant.write(
                {
                    "converted_at": when[participant.id],
                    "conversion_trace_id": trace.id if trace else False,
                    "conversion_step_id": trace.step_id.id if trace else False,
                    "preceding_step_id": preceding[participant.id].step_id.id if participant.id in preceding else False,
                    "revenue": revenue.get(participant.id, 0.0),
                }
            )

    def _last_touches(self, when):
        """{participant id: the trace of its last human open or click in the attribution
        window before `when[participant id]`}, one query for the batch."""
        window = self._attribution_window()
        if not window or not self:
            return {}
        # sudo: tracking events have no user rules; only this batch's traces are read.
        events = (
            self.env["email.automation.event"]
            .sudo()
            .search_fetch(
                [
                    ("trace_id.participant_id", "in", self.ids),
                    ("trace_id.is_test", "=", False),
                    ("event_type", "in", TOUCH_EVENT_TYPES),
                    ("occurred_at", ">=", min(when.values()) - window),
                    ("occurred_at", "<=", max(when.values())),
                ],
                ["trace_id", "occurred_at"],
                order="occurred_at desc, id desc",
            )
        )
        touches = {}
        for event in events:
            participant_id = event.trace_id.participant_id.id
            converted_at = when[participant_id]
            if participant_id not in touches and converted_at - window <= event.occurred_at <= converted_at:
                touches[participant_id] = event.trace_id
        return touches

    def _preceding_traces(self, when):
        """{participant id: its last trace done (sent) before `when[participant id]`}."""
        # sudo: the queue's traces of this batch only.
        traces = (
            self.env["email.automation.trace"]
            .sudo()
            .search_fetch(
                [("participant_id", "in", self.ids), ("state", "=", "sent"), ("sent_at", "<=", max(when.values()))],
                ["participant_id", "sent_at", "step_id"],
                order="sent_at desc, id desc",
            )
        )
        preceding = {}
        for trace in traces:
            participant_id = trace.participant_id.id
            if participant_id not in preceding and trace.sent_at <= when[participant_id]:
                preceding[participant_id] = trace
        return preceding

    def _conversion_revenue(self):
        """{participant id: revenue in its company's currency}: a confirmed order's untaxed
        amount at the order date's rate; a won lead's expected revenue; nothing otherwise."""
        readers = {"sale.order": self._sale_order_revenue, "crm.lead": self._lead_revenue}
        result = {}
        for model_name, reader in readers.items():
            participants = self.filtered(lambda p, m=model_name: p.res_model == m)
            if participants and model_name in self.env:
                # sudo: only the amount is read, for the scenario's figures.
                records = self.env[model_name].sudo().browse(participants.mapped("res_id")).exists()
                by_id = {record.id: record for record in records}
                for participant in participants:
                    record = by_id.get(participant.res_id)
                    if record:
                        result[participant.id] = reader(record, participant.company_id)
        return result

    @api.model
    def _sale_order_revenue(self, order, company):
        if order.state != "sale":
            return 0.0
        date = (order.date_order or fields.Datetime.now()).date()
        return order.currency_id._convert(order.amount_untaxed, company.currency_id, company, date)

    @api.model
    def _lead_revenue(self, lead, company):
        if not (lead.stage_id.is_won or lead.probability >= 100) or not lead.active:
            return 0.0
        date = (lead.date_closed or fields.Datetime.now()).date()
        return lead.company_currency._convert(lead.expected_revenue, company.currency_id, company, date)

    # ------------------------------------------------------------------
    # Finding who reached the goal
    # ------------------------------------------------------------------

    @api.model
    def _check_goals(self, scenario, reached_at=None):
        """Convert the participants of `scenario` whose record matches its goal: all its
        running ones and those completed within the conversion window, or only the
        records in `reached_at` ({res_id: when it changed}). One search per call."""
        if not scenario.goal_domain or scenario._responsible_problem():
            return self.browse()
        domain = [
            ("scenario_id", "=", scenario.id),
            "|",
            ("state", "=", "running"),
            "&",
            ("state", "=", "completed"),
            ("enrolled_at", ">=", fields.Datetime.now() - self._conversion_window()),
        ]
        if reached_at is not None:
            domain.append(("res_id", "in", list(reached_at)))
        # sudo: the queue looks for conversions; the goal itself is read as the responsible.
        participants = self.sudo().search(domain)
        if not participants:
            return participants
        Model = scenario._responsible_records()
        goal = scenario._parse_domain("goal_domain", scenario.model_name, env=Model.env)
        if not goal:
            return self.browse()
        reached_ids = set(Model.search(goal + [("id", "in", participants.mapped("res_id"))]).ids)
        converted = participants.filtered(lambda p: p.res_id in reached_ids)
        times = {p.id: reached_at[p.res_id] for p in converted if reached_at and reached_at.get(p.res_id)}
        return converted._convert(times)
