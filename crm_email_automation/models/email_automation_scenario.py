import zlib
from collections import namedtuple
from datetime import timedelta

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL

from .domain_utils import parse_domain
from .email_automation_step import DELAY_UNITS, delay_to_timedelta

# What the write/create hook needs to know about one running scenario, as plain data
# so that it can live in the registry-wide ormcache.
TriggerWatcher = namedtuple("TriggerWatcher", "scenario_id trigger field_names selection_values value_domain")

WRITE_TRIGGERS = ("on_value", "on_change")
HOOK_TRIGGERS = ("on_create", *WRITE_TRIGGERS)
TIME_TRIGGERS = ("on_date", "on_inactivity")
# The trace timestamps each engagement KPI counts.
ENGAGEMENT_FIELDS = ("delivered_at", "opened_at", "clicked_at", "replied_at", "bounced_at")


class EmailAutomationScenario(models.Model):
    _name = "email.automation.scenario"
    _description = "E-mail Automation Scenario"
    _inherit = ["mail.thread"]
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True, tracking=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    color = fields.Integer()
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("stopped", "Stopped"),
        ],
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        index=True,
    )
    model_id = fields.Many2one(
        "ir.model",
        string="Target Model",
        required=True,
        ondelete="cascade",
        domain=[("is_mail_thread", "=", True), ("transient", "=", False)],
        default=lambda self: self.env["ir.model"]._get("res.partner"),
        tracking=True,
    )
    model_name = fields.Char(related="model_id.model", store=True, index=True, string="Model Name")
    category = fields.Selection(
        [("transactional", "Transactional"), ("marketing", "Marketing")],
        required=True,
        default="marketing",
        tracking=True,
        help="Transactional e-mail answers something the customer did (an order confirmation); "
        "marketing e-mail promotes.",
    )

    # Trigger
    trigger = fields.Selection(
        [
            ("on_create", "Record created"),
            ("on_value", "Field set to a value"),
            ("on_change", "Fields changed"),
            ("on_date", "Time relative to a date"),
            ("on_inactivity", "Record idle"),
            ("manual", "Manual enrolment only"),
        ],
        required=True,
        default="on_create",
        tracking=True,
    )
    trigger_field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('ttype', 'in', ('selection', 'many2one')), ('store', '=', True)]",
        help="The field whose new value enrols the record.",
    )
    trigger_field_type = fields.Selection(related="trigger_field_id.ttype", string="Trigger Field Type")
    trigger_field_relation = fields.Char(related="trigger_field_id.relation", string="Trigger Field Model")
    trigger_selection_ids = fields.Many2many(
        "ir.model.fields.selection",
        "email_automation_scenario_trigger_selection_rel",
        string="Trigger Values",
        domain="[('field_id', '=', trigger_field_id)]",
        help="The record enters when the field changes to one of these values.",
    )
    trigger_value_domain = fields.Char(
        string="Trigger Value Filter",
        default="[]",
        help="The record enters when the field changes to a record that matches this filter "
        "(for example the stage named Qualified).",
    )
    trigger_field_ids = fields.Many2many(
        "ir.model.fields",
        "email_automation_scenario_trigger_field_rel",
        string="Watched Fields",
        domain="[('model_id', '=', model_id), ('store', '=', True)]",
        help="The record enters when any of these fields changes.",
    )
    date_field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('ttype', 'in', ('date', 'datetime')), ('store', '=', True)]",
    )
    date_offset = fields.Integer(string="Offset", default=1)
    date_offset_unit = fields.Selection(DELAY_UNITS, string="Offset Unit", default="days")
    date_offset_direction = fields.Selection(
        [("before", "Before the date"), ("after", "After the date")], string="Offset Direction", default="after"
    )
    idle_delay = fields.Integer(string="Idle For", default=48)
    idle_delay_unit = fields.Selection(DELAY_UNITS, string="Idle Unit", default="hours")
    time_checked_at = fields.Datetime(
        string="Time Trigger Checked Up To",
        copy=False,
        readonly=True,
        help="Time triggers have enrolled every record that became due before this moment.",
    )

    # Audience and exit
    domain = fields.Char(
        string="Segment",
        default="[]",
        help="Only records matching this filter enter the scenario (checked at enrolment).",
    )
    goal_domain = fields.Char(
        string="Goal",
        help="When a participant's record matches this filter, it has converted: its pending steps are cancelled.",
    )
    reentry_policy = fields.Selection(
        [
            ("once", "Once per record"),
            ("period", "Once per period"),
            ("always", "Every time"),
        ],
        string="Re-entry Policy",
        default="once",
        required=True,
        help="Whether a record can enter again once its previous participation has ended.",
    )
    reentry_days = fields.Integer(string="Re-entry Period (days)", default=30)
    holdout_percent = fields.Integer(
        string="Holdout (%)",
        default=0,
        help="This share of the enrolled records receives no e-mail, so that the conversions of "
        "the others can be compared with theirs.",
    )
    recipient_field_id = fields.Many2one(
        "ir.model.fields",
        ondelete="cascade",
        domain="[('model_id', '=', model_id), '|', "
        "'&', ('ttype', '=', 'many2one'), ('relation', '=', 'res.partner'), ('ttype', '=', 'char')]",
        help="The contact (or e-mail field) that receives the e-mails. Empty on contacts: the contact itself.",
    )

    # Delivery
    provider_id = fields.Many2one(
        "email.automation.provider",
        domain="[('company_id', 'in', [company_id, False])]",
        help="How this scenario's e-mails leave. Empty: the company's default provider.",
    )
    provider_kind = fields.Selection(related="provider_id.kind")
    mail_server_id = fields.Many2one(
        "ir.mail_server",
        string="Outgoing Mail Server",
        help="Leave empty to let Odoo choose the server matching the sender address.",
    )
    is_test_mode = fields.Boolean(
        string="Test Mode",
        help="Every e-mail goes to the test address instead of the real recipient, marked as a test.",
    )
    test_email = fields.Char(string="Test Address")

    date_started = fields.Datetime(string="Started On", copy=False, readonly=True)
    date_stopped = fields.Datetime(string="Stopped On", copy=False, readonly=True)
    step_ids = fields.One2many("email.automation.step", "scenario_id", string="Steps", copy=True)
    participant_ids = fields.One2many("email.automation.participant", "scenario_id")

    # Statistics (computed in email_automation_scenario_form.py)
    participant_count = fields.Integer(compute="_compute_statistics")
    running_count = fields.Integer(string="In Progress", compute="_compute_statistics")
    converted_count = fields.Integer(string="Converted", compute="_compute_statistics")
    scheduled_count = fields.Integer(string="Scheduled", compute="_compute_statistics")
    sent_count = fields.Integer(string="Sent", compute="_compute_statistics")
    skipped_count = fields.Integer(string="Skipped", compute="_compute_statistics")
    failed_count = fields.Integer(string="Failed", compute="_compute_statistics")
    # Delivery and engagement, from what Odoo and the providers' webhooks reported.
    mail_sent_count = fields.Integer(string="E-mails Sent", compute="_compute_engagement")
    delivered_ratio = fields.Float(string="Delivered (%)", compute="_compute_engagement", digits=(5, 1))
    opened_ratio = fields.Float(string="Opened (%)", compute="_compute_engagement", digits=(5, 1))
    clicked_ratio = fields.Float(string="Clicked (%)", compute="_compute_engagement", digits=(5, 1))
    replied_ratio = fields.Float(string="Replied (%)", compute="_compute_engagement", digits=(5, 1))
    bounced_ratio = fields.Float(string="Bounced (%)", compute="_compute_engagement", digits=(5, 1))

    def _compute_engagement(self):
        counts = {}
        if self.ids:
            # One query for all the scenarios shown; test e-mails are not the audience's.
            self.env["email.automation.trace"].flush_model()
            self.env.cr.execute(
                SQL(
                    """
                    SELECT scenario_id, count(*),
                           count(delivered_at), count(opened_at), count(clicked_at),
                           count(replied_at), count(bounced_at)
                      FROM email_automation_trace
                     WHERE scenario_id IN %s AND sent_at IS NOT NULL AND message_id IS NOT NULL
                       AND is_test IS NOT TRUE
                  GROUP BY scenario_id
                    """,
                    tuple(self.ids),
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for scenario in self:
            sent, *engaged = counts.get(scenario.id, (0, 0, 0, 0, 0, 0))
            scenario.mail_sent_count = sent
            ratios = [100.0 * count / sent if sent else 0.0 for count in engaged]
            (
                scenario.delivered_ratio,
                scenario.opened_ratio,
                scenario.clicked_ratio,
                scenario.replied_ratio,
                scenario.bounced_ratio,
            ) = ratios

    # ------------------------------------------------------------------
    # Validation: every bad configuration is refused with the field's name
    # ------------------------------------------------------------------

    def _parse_domain(self, field_name, model_name, env=None):
        """Return the domain stored in `field_name`, validated against `model_name`.
        `env`: whose `uid` the filter names (default: the current user's)."""
        self.ensure_one()
        try:
            return parse_domain(env or self.env, self[field_name], model_name)
        except ValueError as error:
            raise ValidationError(
                self.env._(
                    "%(field)s: the filter of scenario “%(name)s” is not valid: %(error)s",
                    field=self._fields[field_name]._description_string(self.env),
                    name=self.name,
                    error=error,
                )
            ) from error

    @api.constrains("domain", "goal_domain", "model_id")
    def _check_domains(self):
        for scenario in self:
            scenario._parse_domain("domain", scenario.model_name)
            scenario._parse_domain("goal_domain", scenario.model_name)

    @api.constrains("trigger", "trigger_field_id", "trigger_selection_ids", "trigger_value_domain")
    def _check_trigger_value(self):
        for scenario in self.filtered(lambda s: s.trigger == "on_value"):
            field = scenario.trigger_field_id
            if not field or field.model_id != scenario.model_id or field.ttype not in ("selection", "many2one"):
                raise ValidationError(
                    self.env._(
                        "Trigger Field: scenario “%(name)s” needs a selection or many2one field of its target model.",
                        name=scenario.name,
                    )
                )
            if field.ttype == "selection" and not scenario.trigger_selection_ids:
                raise ValidationError(
                    self.env._("Trigger Values: choose at least one value for scenario “%(name)s”.", name=scenario.name)
                )
            if scenario.trigger_selection_ids.field_id - field:
                raise ValidationError(
                    self.env._(
                        "Trigger Values: the values must belong to the trigger field “%(field)s”.",
                        field=field.field_description,
                    )
                )
            if field.ttype == "many2one":
                scenario._parse_domain("trigger_value_domain", field.relation)

    @api.constrains("trigger", "trigger_field_ids")
    def _check_trigger_fields(self):
        for scenario in self.filtered(lambda s: s.trigger == "on_change"):
            if not scenario.trigger_field_ids or scenario.trigger_field_ids.model_id != scenario.model_id:
                raise ValidationError(
                    self.env._(
                        "Watched Fields: choose fields of the target model for scenario “%(name)s”.", name=scenario.name
                    )
                )

    @api.constrains("trigger", "date_field_id", "date_offset", "idle_delay")
    def _check_time_trigger(self):
        for scenario in self:
            if scenario.trigger == "on_date":
                field = scenario.date_field_id
                if not field or field.model_id != scenario.model_id or field.ttype not in ("date", "datetime"):
                    raise ValidationError(
                        self.env._(
                            "Date Field: scenario “%(name)s” needs a date or date-time field of its target model.",
                            name=scenario.name,
                        )
                    )
                if scenario.date_offset < 0:
                    raise ValidationError(
                        self.env._("Offset: the offset cannot be negative; choose Before or After instead.")
                    )
            if scenario.trigger == "on_inactivity" and scenario.idle_delay <= 0:
                raise ValidationError(self.env._("Idle For: the idle time must be positive."))

    @api.constrains("reentry_policy", "reentry_days")
    def _check_reentry_days(self):
        for scenario in self:
            if scenario.reentry_policy == "period" and scenario.reentry_days <= 0:
                raise ValidationError(self.env._("Re-entry Period (days): the period must be positive."))

    @api.constrains("holdout_percent")
    def _check_holdout_percent(self):
        if any(not 0 <= scenario.holdout_percent <= 100 for scenario in self):
            raise ValidationError(self.env._("Holdout (%): choose a share between 0 and 100."))

    @api.constrains("recipient_field_id", "model_id")
    def _check_recipient_field(self):
        for scenario in self:
            field = scenario.recipient_field_id
            if not field:
                if scenario.model_name != "res.partner" and not scenario._default_recipient_field_name():
                    raise ValidationError(
                        self.env._(
                            "Recipient Field: choose the contact or e-mail field that receives "
                            "the e-mails of “%(name)s”.",
                            name=scenario.name,
                        )
                    )
                continue
            valid = field.model_id == scenario.model_id and (
                (field.ttype == "many2one" and field.relation == "res.partner") or field.ttype == "char"
            )
            if not valid:
                raise ValidationError(
                    self.env._(
                        "Recipient Field: “%(field)s” is neither a contact nor a text field of the target model.",
                        field=field.field_description,
                    )
                )

    @api.constrains("is_test_mode", "test_email")
    def _check_test_email(self):
        for scenario in self.filtered("is_test_mode"):
            if not tools.email_normalize(scenario.test_email or ""):
                raise ValidationError(self.env._("Test Address: test mode needs a valid e-mail address."))

    # ------------------------------------------------------------------
    # Onchanges and defaults
    # ------------------------------------------------------------------

    def _default_recipient_field_name(self):
        """The recipient when none is chosen: the contact itself, else `partner_id`."""
        self.ensure_one()
        if self.model_name == "res.partner":
            return False
        model_fields = self.env[self.model_name]._fields if self.model_name in self.env else {}
        partner_field = model_fields.get("partner_id")
        if partner_field and partner_field.type == "many2one" and partner_field.comodel_name == "res.partner":
            return "partner_id"
        return False

    @api.onchange("model_id")
    def _onchange_model_id(self):
        self.trigger_field_id = self.trigger_selection_ids = self.trigger_field_ids = False
        self.date_field_id = self.recipient_field_id = False
        name = self._default_recipient_field_name() if self.model_id else False
        if name:
            self.recipient_field_id = self.env["ir.model.fields"]._get(self.model_name, name)

    @api.onchange("trigger_field_id")
    def _onchange_trigger_field_id(self):
        self.trigger_selection_ids = False
        self.trigger_value_domain = "[]"

    # ------------------------------------------------------------------
    # CRUD: keep the trigger hook cache in step with the scenarios
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        scenarios = super().create(vals_list)
        self.env.registry.clear_cache()
        return scenarios

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        if any(s.state == "running" for s in self):
            raise UserError(self.env._("Stop a running scenario before deleting it."))
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def copy_data(self, default=None):
        vals_list = super().copy_data(default=default)
        return [dict(vals, name=self.env._("%s (copy)", s.name)) for s, vals in zip(self, vals_list, strict=True)]

    @api.model
    @tools.ormcache("model_name")
    def _get_trigger_watchers(self, model_name):
        """Running scenarios whose trigger hooks the create or write of `model_name`."""
        # sudo: the hook runs for every user writing a record; it only reads configuration.
        scenarios = self.sudo().search(
            [("model_name", "=", model_name), ("state", "=", "running"), ("trigger", "in", HOOK_TRIGGERS)]
        )
        watchers = []
        for scenario in scenarios:
            if scenario.trigger == "on_value":
                field_names = frozenset([scenario.trigger_field_id.name])
            elif scenario.trigger == "on_change":
                field_names = frozenset(scenario.trigger_field_ids.mapped("name"))
            else:
                field_names = frozenset()
            watchers.append(
                TriggerWatcher(
                    scenario_id=scenario.id,
                    trigger=scenario.trigger,
                    field_names=field_names,
                    selection_values=frozenset(scenario.trigger_selection_ids.mapped("value")),
                    value_domain=scenario._trigger_value_domain()
                    if scenario.trigger_field_id.ttype == "many2one"
                    else None,
                )
            )
        return tuple(watchers)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_start(self):
        for scenario in self:
            if scenario.state not in ("draft", "paused"):
                raise UserError(self.env._("Only a draft or paused scenario can be started."))
            if not scenario.step_ids:
                raise UserError(self.env._("Scenario “%(name)s” has no steps to run.", name=scenario.name))
        now = fields.Datetime.now()
        drafts = self.filtered(lambda s: s.state == "draft")
        drafts.write({"date_started": now, "time_checked_at": now})
        self.write({"state": "running"})
        self.env["email.automation.queue"]._wake_up()
        return True

    def action_pause(self):
        if any(s.state != "running" for s in self):
            raise UserError(self.env._("Only a running scenario can be paused."))
        self.write({"state": "paused"})
        return True

    def action_stop(self):
        if any(s.state not in ("running", "paused") for s in self):
            raise UserError(self.env._("Only a running or paused scenario can be stopped."))
        self.write({"state": "stopped", "date_stopped": fields.Datetime.now()})
        participants = self.env["email.automation.participant"].search(
            [("scenario_id", "in", self.ids), ("state", "=", "running")]
        )
        participants._end("cancelled", "scenario_stopped")
        self.env["email.automation.enrolment"].search([("scenario_id", "in", self.ids)]).unlink()
        return True

    def action_reset_to_draft(self):
        if any(s.state != "stopped" for s in self):
            raise UserError(self.env._("Only a stopped scenario can be reset to draft."))
        self.write({"state": "draft", "date_started": False, "date_stopped": False})
        return True

    def action_run_due_steps(self):
        """Process the queue now instead of waiting for the scheduled action."""
        if not self.env.user.has_group("crm_email_automation.group_manager"):
            raise UserError(self.env._("Only e-mail automation managers can run the queue by hand."))
        result = self.env["email.automation.queue"]._run_queue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Queue processed"),
                "message": self.env._(
                    "Records enrolled: %(enrolled)s. Steps processed: %(processed)s.",
                    enrolled=result["enrolled"],
                    processed=result["processed"],
                ),
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def _action_view(self, xmlid, domain):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = domain
        action["context"] = {"default_scenario_id": self.id}
        return action

    def action_view_participants(self):
        return self._action_view(
            "crm_email_automation.email_automation_participant_action", [("scenario_id", "=", self.id)]
        )

    def action_view_traces(self):
        return self._action_view("crm_email_automation.email_automation_trace_action", [("scenario_id", "=", self.id)])

    def action_view_engagement(self):
        """The e-mails behind a KPI: `engagement_field` in the context names the timestamp."""
        field_name = self.env.context.get("engagement_field")
        if field_name not in ENGAGEMENT_FIELDS:
            raise UserError(self.env._("Unknown engagement figure."))
        return self._action_view(
            "crm_email_automation.email_automation_trace_action",
            [("scenario_id", "=", self.id), (field_name, "!=", False), ("is_test", "=", False)],
        )

    @api.onchange("provider_id")
    def _onchange_provider_id(self):
        if self.provider_id.kind not in (False, "smtp"):
            self.mail_server_id = False

    def _get_provider(self):
        """The provider this scenario sends through; empty means Odoo's SMTP servers."""
        self.ensure_one()
        # sudo: the default provider is looked up for the queue, whatever its user may read.
        return self.provider_id or self.env["email.automation.provider"].sudo()._get_default(self.company_id)

    # ------------------------------------------------------------------
    # Enrolment
    # ------------------------------------------------------------------

    def _segment_domain(self, env=None):
        """The filter a record must match to enter: the segment, within the scenario's company."""
        self.ensure_one()
        domain = self._parse_domain("domain", self.model_name, env=env)
        Model = self.env[self.model_name]
        if "company_id" in Model._fields and Model._fields["company_id"].store:
            domain = expression.AND([domain, [("company_id", "in", [False, self.company_id.id])]])
        return domain

    def _enrol(self, res_ids, triggered_at=None):
        """Enrol the records `res_ids` that match the segment and the re-entry policy.

        Works on a batch; returns the participants created. `triggered_at` (one datetime,
        or one per record id; default: now) is when the trigger fired: the first steps are
        due from then. Nothing is sent here.
        """
        self.ensure_one()
        if self.state != "running" or not res_ids:
            return self.env["email.automation.participant"]
        now = fields.Datetime.now()
        if not isinstance(triggered_at, dict):
            triggered_at = dict.fromkeys(res_ids, triggered_at or now)
        records = self._search_enrollable([("id", "in", list(set(res_ids)))])
        allowed_ids = self._filter_reentry(records.ids, now)
        if not allowed_ids:
            return self.env["email.automation.participant"]
        records = records.browse(allowed_ids)
        partners = self._get_recipient_partners(records)
        participants = (
            self.env["email.automation.participant"]
            .sudo()
            .create(
                [
                    {
                        "scenario_id": self.id,
                        "res_id": record.id,
                        "partner_id": partners.get(record.id, False),
                        "enrolled_at": triggered_at.get(record.id) or now,
                        "is_holdout": self._is_holdout(record.id),
                    }
                    for record in records
                ]
            )
        )
        participants._schedule_steps(self.step_ids.filtered(lambda s: not s.parent_id))
        return participants

    def _is_holdout(self, res_id):
        """Whether the record belongs to the holdout share: a stable hash, so that the same
        record falls on the same side each time it enters."""
        return zlib.crc32(f"{self.id}-{res_id}".encode()) % 100 < self.holdout_percent

    def _filter_reentry(self, res_ids, now):
        """Drop the ids the re-entry policy keeps out (one query for the batch)."""
        self.ensure_one()
        Participant = self.env["email.automation.participant"].sudo()
        domain = [("scenario_id", "=", self.id), ("res_id", "in", res_ids), ("is_test", "=", False)]
        if self.reentry_policy == "always":
            domain.append(("state", "=", "running"))
        elif self.reentry_policy == "period":
            domain = expression.AND(
                [
                    domain,
                    ["|", ("state", "=", "running"), ("enrolled_at", ">", now - timedelta(days=self.reentry_days))],
                ]
            )
        blocked = set(Participant.search_fetch(domain, ["res_id"]).mapped("res_id"))
        return [res_id for res_id in res_ids if res_id not in blocked]

    def _get_recipient_partners(self, records):
        """{res_id: partner id} of the contact that receives the e-mails, where there is one."""
        self.ensure_one()
        if self.model_name == "res.partner" and not self.recipient_field_id:
            return {record.id: record.id for record in records}
        field_name = self.recipient_field_id.name or self._default_recipient_field_name()
        if not field_name or records._fields[field_name].type != "many2one":
            return {}
        return {record.id: record[field_name].id for record in records if record[field_name]}

    def _get_recipient_email(self, record, partner):
        """The address the e-mail goes to for `record` (its partner's, or a text field's)."""
        field_name = self.recipient_field_id.name
        if field_name and record._fields[field_name].type == "char":
            return record[field_name] or ""
        return partner.email or ""

    # ------------------------------------------------------------------
    # Time triggers, run by the queue cron
    # ------------------------------------------------------------------

    def _time_trigger_window(self, now):
        """The (start, end) of the date-field window that became due since the last check."""
        self.ensure_one()
        if self.trigger == "on_inactivity":
            shift = delay_to_timedelta(self.idle_delay, self.idle_delay_unit)
        else:
            offset = delay_to_timedelta(self.date_offset, self.date_offset_unit)
            shift = offset if self.date_offset_direction == "after" else -offset
        start = (self.time_checked_at or self.date_started or now) - shift
        return start, now - shift

    def _enrol_time_triggered(self, now):
        """Enrol the records whose date (or last change) entered the due window since last time.

        Records that were already due before the scenario started are left alone: starting
        an idle-quotation scenario must not mail every quotation untouched for months.
        """
        self.ensure_one()
        start, end = self._time_trigger_window(now)
        field_name = "write_date" if self.trigger == "on_inactivity" else self.date_field_id.name
        if self.env[self.model_name]._fields[field_name].type == "date":
            start, end = start.date(), end.date()
        records = self._search_enrollable([(field_name, ">", start), (field_name, "<=", end)])
        participants = self._enrol(records.ids, triggered_at=now)
        self.time_checked_at = now
        return participants
