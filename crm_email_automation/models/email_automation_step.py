from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .domain_utils import parse_domain

DELAY_UNITS = [
    ("minutes", "Minutes"),
    ("hours", "Hours"),
    ("days", "Days"),
    ("weeks", "Weeks"),
]


def delay_to_timedelta(number, unit):
    return timedelta(**{unit or "days": number or 0})


class EmailAutomationStep(models.Model):
    _name = "email.automation.step"
    _description = "E-mail Automation Step"
    _order = "scenario_id, sequence, id"
    _parent_store = True
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    scenario_id = fields.Many2one("email.automation.scenario", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="scenario_id.company_id", store=True)
    model_name = fields.Char(related="scenario_id.model_name", string="Model Name")
    parent_id = fields.Many2one(
        "email.automation.step",
        string="After Step",
        ondelete="cascade",
        index=True,
        domain="[('scenario_id', '=', scenario_id), ('id', '!=', id)]",
        help="Leave empty for a step that starts when the record enters the scenario.",
    )
    parent_path = fields.Char(index=True)
    child_ids = fields.One2many("email.automation.step", "parent_id", string="Following Steps")
    trigger_type = fields.Selection(
        [("begin", "After enrolment"), ("after_parent", "After the previous step")],
        string="Starts",
        default="after_parent",
        required=True,
        help="A step after the previous step follows its After Step; left empty, the step just before it in the list.",
    )
    delay = fields.Integer(default=0, help="How long to wait after enrolment or after the previous step.")
    delay_unit = fields.Selection(DELAY_UNITS, default="days", required=True)
    condition_domain = fields.Char(
        string="Condition",
        default="[]",
        help="Checked again when the step is due: if the record no longer matches, the step is "
        "skipped and the reason recorded.",
    )
    action_type = fields.Selection(
        [
            ("mail", "Send an e-mail"),
            ("activity", "Schedule an activity"),
            ("end", "End the scenario"),
        ],
        string="Action",
        default="mail",
        required=True,
    )
    mail_template_id = fields.Many2one(
        "mail.template",
        string="E-mail Template",
        ondelete="restrict",
        domain="[('model', '=', model_name)]",
    )
    activity_type_id = fields.Many2one("mail.activity.type")
    activity_summary = fields.Char(translate=True)
    activity_note = fields.Html(translate=True)
    activity_deadline_days = fields.Integer(string="Due In (days)", default=0)
    activity_user_field = fields.Char(
        string="Assign To Field",
        default="user_id",
        help="The field of the record holding the user to assign (its salesperson); when "
        "empty or unset, the activity goes to the scenario's responsible.",
    )

    trace_ids = fields.One2many("email.automation.trace", "step_id", string="Queue")
    scheduled_count = fields.Integer(string="Scheduled", compute="_compute_statistics")
    sent_count = fields.Integer(string="Sent", compute="_compute_statistics")
    skipped_count = fields.Integer(string="Skipped", compute="_compute_statistics")
    failed_count = fields.Integer(string="Failed", compute="_compute_statistics")

    @api.model_create_multi
    def create(self, vals_list):
        steps = super().create(vals_list)
        # A step changes what its scenario reads and sends: only its responsible (or an
        # administrator) may add one.
        steps.scenario_id._check_may_change()
        steps._assign_default_parents()
        return steps

    def write(self, vals):
        self.scenario_id._check_may_change()
        result = super().write(vals)
        if "scenario_id" in vals:
            self.scenario_id._check_may_change()
        if "trigger_type" in vals or "parent_id" in vals:
            self._assign_default_parents()
        if "trigger_type" in vals and vals["trigger_type"] == "begin":
            self.filtered("parent_id").parent_id = False
        return result

    def unlink(self):
        self.scenario_id._check_may_change()
        return super().unlink()

    def _assign_default_parents(self):
        """A step "after the previous step" with no After Step follows the step listed just
        before it; the first step of a scenario starts at enrolment."""
        orphans = self.filtered(lambda s: s.trigger_type == "after_parent" and not s.parent_id)
        for step in orphans.sorted(lambda s: (s.sequence, s.id)):
            previous = step.scenario_id.step_ids.filtered(
                lambda s, key=(step.sequence, step.id): (s.sequence, s.id) < key
            ).sorted(lambda s: (s.sequence, s.id))[-1:]
            if previous:
                step.parent_id = previous
            else:
                step.trigger_type = "begin"

    @api.depends("trace_ids.state")
    def _compute_statistics(self):
        counts = {}
        if self.ids:
            for step, state, count in self.env["email.automation.trace"]._read_group(
                [("step_id", "in", self.ids), ("is_test", "=", False)], ["step_id", "state"], ["__count"]
            ):
                counts[step.id, state] = count
        for step in self:
            step.scheduled_count = counts.get((step.id, "scheduled"), 0)
            step.sent_count = counts.get((step.id, "sent"), 0)
            step.skipped_count = counts.get((step.id, "skipped"), 0)
            step.failed_count = counts.get((step.id, "failed"), 0)

    @api.constrains("delay", "activity_deadline_days")
    def _check_delay(self):
        for step in self:
            if step.delay < 0:
                raise ValidationError(self.env._("Delay: step “%(name)s” cannot wait a negative time.", name=step.name))
            if step.activity_deadline_days < 0:
                raise ValidationError(self.env._("Due In (days): the deadline cannot be in the past."))

    @api.constrains("action_type", "mail_template_id", "scenario_id")
    def _check_mail_template(self):
        for step in self.filtered(lambda s: s.action_type == "mail"):
            if not step.mail_template_id:
                raise ValidationError(
                    self.env._("E-mail Template: step “%(name)s” sends an e-mail and needs a template.", name=step.name)
                )
            if step.mail_template_id.model != step.scenario_id.model_name:
                raise ValidationError(
                    self.env._(
                        "E-mail Template: “%(template)s” is made for %(template_model)s records, "
                        "but step “%(name)s” runs on %(model)s records.",
                        template=step.mail_template_id.name,
                        template_model=step.mail_template_id.model,
                        name=step.name,
                        model=step.scenario_id.model_name,
                    )
                )

    @api.constrains("action_type", "activity_type_id")
    def _check_activity(self):
        for step in self.filtered(lambda s: s.action_type == "activity" and not s.activity_type_id):
            raise ValidationError(
                self.env._("Activity Type: step “%(name)s” schedules an activity and needs its type.", name=step.name)
            )

    @api.constrains("condition_domain", "scenario_id")
    def _check_condition_domain(self):
        for step in self:
            step._parse_condition()

    @api.constrains("parent_id", "scenario_id")
    def _check_parent(self):
        if self._has_cycle():
            raise ValidationError(self.env._("After Step: steps cannot follow each other in a loop."))
        for step in self.filtered("parent_id"):
            if step.parent_id.scenario_id != step.scenario_id:
                raise ValidationError(self.env._("After Step: a step can only follow a step of its own scenario."))

    def _parse_condition(self, env=None):
        """The step's condition as a domain, validated against the scenario's model.
        `env`: whose `uid` the filter names (default: the current user's)."""
        self.ensure_one()
        try:
            return parse_domain(env or self.env, self.condition_domain, self.scenario_id.model_name)
        except ValueError as error:
            raise ValidationError(
                self.env._("Condition: step “%(name)s” has an invalid filter: %(error)s", name=self.name, error=error)
            ) from error

    def _delay_timedelta(self):
        self.ensure_one()
        return delay_to_timedelta(self.delay, self.delay_unit)
