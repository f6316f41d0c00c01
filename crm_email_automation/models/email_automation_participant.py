from odoo import api, fields, models


class EmailAutomationParticipant(models.Model):
    _name = "email.automation.participant"
    _description = "E-mail Automation Participant"
    _order = "enrolled_at desc, id desc"
    _rec_name = "record_name"

    scenario_id = fields.Many2one("email.automation.scenario", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="scenario_id.company_id", store=True, index=True)
    res_model = fields.Char(related="scenario_id.model_name", store=True, string="Document Model")
    res_id = fields.Many2oneReference(string="Document ID", model_field="res_model", required=True, index=True)
    record_name = fields.Char(string="Document", compute="_compute_record_name")
    partner_id = fields.Many2one("res.partner", string="Contact", index="btree_not_null", ondelete="set null")
    state = fields.Selection(
        [
            ("running", "In Progress"),
            ("completed", "Completed"),
            ("converted", "Converted"),
            ("exited", "Exited"),
            ("cancelled", "Cancelled"),
        ],
        default="running",
        required=True,
        index=True,
    )
    is_holdout = fields.Boolean(
        string="Holdout",
        help="Kept out of the sending on purpose, to measure what the scenario adds.",
    )
    exit_reason = fields.Selection(
        [
            ("goal_reached", "Goal reached"),
            ("record_deleted", "Record deleted"),
            ("record_hidden", "Record not accessible to the scenario's responsible user"),
            ("scenario_stopped", "Scenario stopped"),
            ("end_step", "Ended by a step"),
            ("manual", "Removed by hand"),
        ],
        readonly=True,
    )
    enrolled_at = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    ended_at = fields.Datetime(readonly=True)
    converted_at = fields.Datetime(readonly=True)
    trace_ids = fields.One2many("email.automation.trace", "participant_id", string="Steps")

    def init(self):
        # At most one participation in progress per record and scenario, whatever the
        # re-entry policy: two concurrent triggers cannot enrol the same record twice. Test
        # runs (`is_test`) are not participations: they never block a real one.
        self.env.cr.execute("DROP INDEX IF EXISTS email_automation_participant_running_uniq")
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS email_automation_participant_running_real_uniq
                ON email_automation_participant (scenario_id, res_id)
             WHERE state = 'running' AND is_test IS NOT TRUE
            """
        )

    @api.depends("res_model", "res_id")
    @api.depends_context("uid")
    def _compute_record_name(self):
        """The enrolled record's name, as far as the reader may see it: a record their
        rules hide is named by its model and id only."""
        by_model = {}
        for participant in self:
            by_model.setdefault(participant.res_model, set()).add(participant.res_id)
        names, existing = {}, set()
        for model_name, res_ids in by_model.items():
            if model_name in self.env:
                # sudo: only tells a deleted record from a hidden one; no name is read.
                records = self.env[model_name].sudo().browse(res_ids).exists().with_env(self.env)
                existing.update((model_name, res_id) for res_id in records.ids)
                for record in records._filtered_access("read"):
                    names[model_name, record.id] = record.display_name
        for participant in self:
            key = (participant.res_model, participant.res_id)
            if key in names:
                participant.record_name = names[key]
            elif key in existing:
                participant.record_name = f"{participant.res_model} #{participant.res_id}"
            else:
                participant.record_name = self.env._(
                    "%(model)s #%(id)s (deleted)", model=participant.res_model, id=participant.res_id
                )

    def _schedule_steps(self, steps):
        """Create the traces of `steps` for every participant, due `delay` after enrolment."""
        if not self or not steps:
            return self.env["email.automation.trace"]
        return (
            self.env["email.automation.trace"]
            .sudo()
            .create(
                [
                    {
                        "participant_id": participant.id,
                        "step_id": step.id,
                        "scheduled_at": participant.enrolled_at + step._delay_timedelta(),
                    }
                    for participant in self
                    for step in steps
                ]
            )
        )

    def _schedule_next_steps(self, done_traces):
        """Schedule the steps that follow the steps `done_traces` just completed."""
        now = fields.Datetime.now()
        vals_list = [
            {
                "participant_id": trace.participant_id.id,
                "step_id": child.id,
                "scheduled_at": now + child._delay_timedelta(),
            }
            for trace in done_traces
            if trace.participant_id.state == "running"
            for child in trace.step_id.child_ids
            # Steps on an outcome wait for it (see email_automation_branch_decision.py).
            if child.trigger_type == "after_parent"
        ]
        if vals_list:
            self.env["email.automation.trace"].sudo().create(vals_list)
        # Steps on an outcome (opened, not opened, record matches…) wait for it.
        self.env["email.automation.branch.decision"]._schedule_outcome_steps(done_traces)

    def _end(self, state, reason=False):
        """End the participations in `state`, cancelling what they still had to do."""
        if not self:
            return
        now = fields.Datetime.now()
        values = {"state": state, "exit_reason": reason, "ended_at": now}
        if state == "converted":
            values["converted_at"] = now
        self.write(values)
        pending = self.env["email.automation.trace"].search(
            [("participant_id", "in", self.ids), ("state", "=", "scheduled")]
        )
        pending.write({"state": "cancelled", "reason": reason, "processed_at": now})

    def _complete_finished(self):
        """Mark completed the running participations with nothing left to do."""
        running = self.filtered(lambda p: p.state == "running")
        if not running:
            return
        busy = self.env["email.automation.trace"]._read_group(
            [
                ("participant_id", "in", running.ids),
                "|",
                ("state", "in", ("scheduled", "processing")),
                # Still waiting for what the recipient does with an e-mail (a branch window).
                ("outcome_due_at", "!=", False),
            ],
            ["participant_id"],
        )
        busy_ids = {participant.id for (participant,) in busy}
        finished = running.filtered(lambda p: p.id not in busy_ids)
        finished._mark_completed()

    def _mark_completed(self):
        """End the participations that went through every step."""
        self.write({"state": "completed", "ended_at": fields.Datetime.now()})

    def action_cancel(self):
        self.filtered(lambda p: p.state == "running")._end("cancelled", "manual")
        return True

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
