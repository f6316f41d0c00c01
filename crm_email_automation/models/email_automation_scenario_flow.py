from odoo import api, fields, models
from odoo.exceptions import UserError

# The trace states a node counts as "waiting" (due later, or being sent right now).
WAITING_STATES = ("scheduled", "processing")


class EmailAutomationScenario(models.Model):
    """The data the flow diagram draws: the steps as a tree, each with its numbers."""

    # A concern of its own, in a file of its own: the scenario's model file is long enough.
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    # The flow widget's own field: the form lists the steps (step_ids, with their list) and
    # draws them (this one), and a field shown twice under one name confuses the clients
    # that read a form by field name (Odoo's test Form among them).
    flow_step_ids = fields.Many2many(
        "email.automation.step",
        string="Flow",
        compute="_compute_flow_step_ids",
        help="The steps drawn as a tree, each with its numbers.",
    )

    @api.depends("step_ids")
    def _compute_flow_step_ids(self):
        for scenario in self:
            scenario.flow_step_ids = scenario.step_ids

    def get_flow_data(self):
        """Return the scenario's steps with their counts, for the flow diagram.

        A few grouped queries for the whole scenario, whatever its size: traces by step and
        state, human opens and clicks by step (real e-mails only, not the test address's),
        and conversions by the step that preceded them. Everything is read with the user's
        rights: a step or a trace the user may not read is not counted.
        """
        self.ensure_one()
        self.check_access("read")
        steps = self.step_ids.sorted(lambda s: (s.sequence, s.id))
        counts = {
            step.id: dict.fromkeys(("waiting", "sent", "failed", "opened", "clicked", "conversions"), 0)
            for step in steps
        }
        Trace = self.env["email.automation.trace"]
        if steps:
            for step, state, count in Trace._read_group(
                [("step_id", "in", steps.ids), ("is_test", "=", False)], ["step_id", "state"], ["__count"]
            ):
                if state in WAITING_STATES:
                    counts[step.id]["waiting"] += count
                elif state in ("sent", "failed"):
                    counts[step.id][state] += count
            for step, opened, clicked in Trace._read_group(
                [("step_id", "in", steps.ids), ("sent_at", "!=", False), ("is_test", "=", False)],
                ["step_id"],
                ["opened_at:count", "clicked_at:count"],
            ):
                counts[step.id]["opened"] = opened
                counts[step.id]["clicked"] = clicked
            counts = self._flow_add_conversions(steps, counts)
        variants = self._flow_variants(steps)
        return {
            "scenario_id": self.id,
            "has_conversions": "conversion_step_id" in self.env["email.automation.participant"]._fields,
            "nodes": [
                {
                    "id": step.id,
                    "name": step.name,
                    "parent_id": step.parent_id.id or False,
                    "sequence": step.sequence,
                    "trigger_type": step.trigger_type,
                    "action_type": step.action_type,
                    "delay": step.delay,
                    "delay_unit": step.delay_unit,
                    "condition": step.condition_domain if step.condition_domain not in (False, "", "[]") else False,
                    "counts": counts[step.id],
                    "variants": variants.get(step.id, []),
                }
                for step in steps
            ],
        }

    @api.model
    def _flow_add_conversions(self, steps, counts):
        """Conversions by the step that preceded them, when participants record that step."""
        Participant = self.env["email.automation.participant"]
        if "conversion_step_id" not in Participant._fields:
            return counts
        for step, count in Participant._read_group(
            [("conversion_step_id", "in", steps.ids), ("is_holdout", "=", False)],
            ["conversion_step_id"],
            ["__count"],
        ):
            counts[step.id]["conversions"] = count
        return counts

    @api.model
    def _flow_variants(self, steps):
        """{step id: [variant figures]} for the steps with A/B variants (two grouped queries)."""
        with_variants = steps.filtered("variant_ids")
        results = with_variants._ab_results()
        return {
            step.id: [
                {
                    "id": variant.id,
                    "name": variant.name,
                    "share": variant.share,
                    "is_winner": variant.is_winner,
                    "sent": results[variant.id]["sent"],
                    "open_rate": results[variant.id]["open_rate"],
                    "click_rate": results[variant.id]["click_rate"],
                    "conversion_rate": results[variant.id]["conversion_rate"],
                    "p_value": results[variant.id]["p_value"],
                    "test_result": results[variant.id]["test_result"],
                }
                for variant in step.variant_ids.sorted(lambda v: (v.sequence, v.id))
            ]
            for step in with_variants
        }

    def action_view_step_traces(self, step_id):
        """The queue of one step of this scenario: a click on a node of the flow diagram."""
        self.ensure_one()
        step = self.env["email.automation.step"].browse(int(step_id)).exists()
        if not step or step.scenario_id != self:
            raise UserError(self.env._("This step is not part of the scenario."))
        action = self._action_view(
            "crm_email_automation.email_automation_trace_action",
            [("scenario_id", "=", self.id), ("step_id", "=", step.id)],
        )
        action["name"] = step.display_name
        return action
