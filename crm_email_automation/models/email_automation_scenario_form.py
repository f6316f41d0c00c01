from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

# What each stat button of the scenario form opens: {context value: (action, domain)}.
TRACE_STATES = ("scheduled", "sent", "skipped", "failed")
PARTICIPANT_STATES = ("running", "completed", "converted", "exited", "cancelled")


class EmailAutomationScenario(models.Model):
    """What the scenario form needs to read plainly: the trigger value picked by name, an
    optional goal, stat buttons that open what they count, and a history no click deletes."""

    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    trigger_value_ref = fields.Many2oneReference(
        string="Trigger Value",
        model_field="trigger_field_relation",
        help="The record enters when the field changes to this value (for example the stage "
        "Qualified). Empty: whenever the field changes to any value.",
    )
    has_goal = fields.Boolean(
        string="Stop at a Goal",
        compute="_compute_has_goal",
        store=True,
        readonly=False,
        help="A goal is optional. With one, a participant whose record reaches it has converted "
        "and its remaining steps are cancelled; without, participants go through every step.",
    )
    activity_done_count = fields.Integer(string="Activities Created", compute="_compute_statistics")
    archived_step_count = fields.Integer(string="Archived Steps", compute="_compute_archived_step_count")

    def _compute_archived_step_count(self):
        counts = {}
        if self.ids:
            counts = {
                scenario.id: count
                for scenario, count in self.env["email.automation.step"]
                .with_context(active_test=False)
                ._read_group([("scenario_id", "in", self.ids), ("active", "=", False)], ["scenario_id"], ["__count"])
            }
        for scenario in self:
            scenario.archived_step_count = counts.get(scenario.id, 0)

    def action_view_archived_steps(self):
        """The archived steps of the scenario, to look at their history or restore them."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Archived Steps"),
            "res_model": "email.automation.step",
            "view_mode": "list,form",
            "domain": [("scenario_id", "=", self.id), ("active", "=", False)],
            "context": {"active_test": False, "default_scenario_id": self.id},
        }

    @api.depends("goal_domain")
    def _compute_has_goal(self):
        for scenario in self:
            scenario.has_goal = scenario.goal_domain not in (False, "", "[]")

    @api.onchange("has_goal")
    def _onchange_has_goal(self):
        if not self.has_goal:
            self.goal_domain = False

    @api.onchange("trigger_field_id")
    def _onchange_trigger_field_id_value(self):
        self.trigger_value_ref = False

    @api.constrains("has_goal", "goal_domain")
    def _check_goal_set(self):
        for scenario in self.filtered(lambda s: s.has_goal and s.goal_domain in (False, "", "[]")):
            raise ValidationError(
                self.env._(
                    "Goal: scenario “%(name)s” stops at a goal but the goal says nothing yet: "
                    "choose the condition that means success, or untick Stop at a Goal.",
                    name=scenario.name,
                )
            )

    @api.constrains("trigger", "trigger_field_id", "trigger_value_ref")
    def _check_trigger_value_ref(self):
        for scenario in self.filtered(lambda s: s.trigger == "on_value" and s.trigger_value_ref):
            field = scenario.trigger_field_id
            if field.ttype != "many2one" or not scenario._trigger_value_record():
                raise ValidationError(
                    self.env._(
                        "Trigger Value: choose an existing value of the field “%(field)s”.",
                        field=field.field_description,
                    )
                )

    def _trigger_value_record(self):
        """The record picked as trigger value (a stage, say), if it still exists."""
        self.ensure_one()
        relation = self.trigger_field_id.relation
        if not self.trigger_value_ref or not relation or relation not in self.env:
            return None
        # sudo: the value is configuration; whether it exists does not depend on who looks.
        return self.env[relation].sudo().browse(self.trigger_value_ref).exists()

    def _trigger_value_domain(self):
        """The filter the new value of a many2one trigger field must match: the picked record,
        or the filter of scenarios configured before values were picked by name."""
        self.ensure_one()
        if self.trigger_value_ref:
            return repr([("id", "=", self.trigger_value_ref)])
        return self.trigger_value_domain

    @api.depends("participant_ids")
    def _compute_statistics(self):
        """Participants by state, steps by state; "Sent" counts e-mails, the activities a step
        created are counted apart. Test runs and test-mode e-mails never count, as in the
        other figures. One grouped read of the participants, one of the traces."""
        participants = defaultdict(dict)
        traces = defaultdict(lambda: defaultdict(int))  # scenario id -> {state: count}
        done = defaultdict(lambda: defaultdict(int))  # scenario id -> {action type: count sent}
        if self.ids:
            for scenario, state, count in self.env["email.automation.participant"]._read_group(
                [("scenario_id", "in", self.ids), ("is_test", "=", False)], ["scenario_id", "state"], ["__count"]
            ):
                participants[scenario.id][state] = count
            for scenario, state, step, count in self.env["email.automation.trace"]._read_group(
                [("scenario_id", "in", self.ids), ("is_test", "=", False)],
                ["scenario_id", "state", "step_id"],
                ["__count"],
            ):
                traces[scenario.id][state] += count
                if state == "sent":
                    done[scenario.id][step.action_type] += count
        for scenario in self:
            by_state = participants[scenario.id]
            trace_states = traces[scenario.id]
            scenario.participant_count = sum(by_state.values())
            scenario.running_count = by_state.get("running", 0)
            scenario.converted_count = by_state.get("converted", 0)
            scenario.scheduled_count = trace_states["scheduled"]
            scenario.sent_count = done[scenario.id]["mail"]
            scenario.activity_done_count = done[scenario.id]["activity"]
            scenario.skipped_count = trace_states["skipped"]
            scenario.failed_count = trace_states["failed"]

    # ------------------------------------------------------------------
    # Stat buttons: each opens what it counts
    # ------------------------------------------------------------------

    def action_view_traces(self):
        """The steps of this scenario; `trace_state` in the context keeps those in one state,
        `trace_action_type` those of one kind of step (e-mails, activities)."""
        action = super().action_view_traces()
        state = self.env.context.get("trace_state")
        action_type = self.env.context.get("trace_action_type")
        if state:
            if state not in TRACE_STATES:
                raise UserError(self.env._("Unknown step status."))
            action["domain"] = [*action["domain"], ("state", "=", state)]
        if action_type:
            if action_type not in ("mail", "activity", "end"):
                raise UserError(self.env._("Unknown kind of step."))
            action["domain"] = [*action["domain"], ("step_id.action_type", "=", action_type)]
        return action

    def action_view_participants(self):
        """The participants; `participant_state` in the context keeps those in one state."""
        action = super().action_view_participants()
        state = self.env.context.get("participant_state")
        if state:
            if state not in PARTICIPANT_STATES:
                raise UserError(self.env._("Unknown participant status."))
            action["domain"] = [*action["domain"], ("state", "=", state)]
        return action

    # ------------------------------------------------------------------
    # History is never deleted by a click
    # ------------------------------------------------------------------

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_live_history(self):
        live = self.filtered(lambda s: s.state in ("running", "paused") and s._has_participants())
        if live:
            raise UserError(
                self.env._(
                    "Scenario “%(name)s” is running or paused and has participants: deleting it "
                    "would delete their history. Stop it and archive it instead.",
                    name=live[0].name,
                )
            )

    def _has_participants(self):
        self.ensure_one()
        # sudo: whether a history exists must not depend on which participants one may read.
        return bool(self.env["email.automation.participant"].sudo().search_count([("scenario_id", "=", self.id)]))
