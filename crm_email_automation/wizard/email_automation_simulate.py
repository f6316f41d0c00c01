from collections import Counter

from markupsafe import Markup

from odoo import api, fields, models

from ..models.email_automation_policy import DRY_RUN_KEY
from ..models.email_automation_test_run import rolled_back

# How many of the records that would enter are run through the steps' checks.
SIMULATION_LIMIT = 2000
SAMPLE_SIZE = 10


class EmailAutomationSimulate(models.TransientModel):
    """Simulate (dry run): which records would enter now and, per step, what would be
    sent and which check or policy would stop whom. Nothing is sent or kept: the
    participations are made up in a savepoint that is rolled back."""

    _name = "email.automation.simulate"
    _description = "E-mail Automation Simulation"

    scenario_id = fields.Many2one("email.automation.scenario", required=True, readonly=True, ondelete="cascade")
    enter_count = fields.Integer(string="Would Enter Now", compute="_compute_simulation")
    simulated_count = fields.Integer(string="Simulated Records", compute="_compute_simulation")
    sample = fields.Text(compute="_compute_simulation")
    step_report = fields.Html(string="Per Step", compute="_compute_simulation", sanitize=False)

    @api.depends("scenario_id")
    def _compute_simulation(self):
        self.env["email.automation.scenario"]._check_testing_rights()
        for wizard in self:
            scenario = wizard.scenario_id._origin
            if not scenario:
                wizard.enter_count = wizard.simulated_count = 0
                wizard.sample = wizard.step_report = False
                continue
            result = wizard._simulate(scenario)
            wizard.enter_count = result["count"]
            wizard.simulated_count = result["simulated"]
            wizard.sample = "\n".join(result["sample"])
            wizard.step_report = wizard._report_html(result["steps"])

    # ------------------------------------------------------------------
    # The dry run
    # ------------------------------------------------------------------

    @api.model
    def _simulate(self, scenario):
        """{'count', 'simulated', 'sample', 'steps': [(step, Counter of outcomes)]}."""
        now = fields.Datetime.now()
        records = scenario._search_enrollable([])
        res_ids = scenario._filter_reentry(records.ids, now)
        # The sample names only records the current user may read too.
        sample = self.env[scenario.model_name].browse(res_ids[: SAMPLE_SIZE * 5])._filtered_access("read")
        simulated_ids = res_ids[:SIMULATION_LIMIT]
        steps = []
        for step in scenario.step_ids.sorted(lambda s: (s.parent_path or "", s.sequence, s.id)):
            steps.append(
                (step, self._simulate_step(scenario, step, simulated_ids, now) if simulated_ids else Counter())
            )
        return {
            "count": len(res_ids),
            "simulated": len(simulated_ids),
            "sample": sample[:SAMPLE_SIZE].mapped("display_name"),
            "steps": steps,
        }

    @api.model
    def _simulate_step(self, scenario, step, res_ids, now):
        """Counter {(state, reason): count} of `step` run now for the records `res_ids`,
        through the queue's own checks and policies, in a savepoint rolled back after."""
        partners = scenario._get_recipient_partners(scenario._responsible_records(res_ids))
        outcome = Counter()
        # sudo: the made-up participations are the queue's kind of work, all rolled back.
        with rolled_back(self.env):
            Participant = self.env["email.automation.participant"].sudo().with_context(**{DRY_RUN_KEY: True})
            participants = Participant.create(
                [
                    {
                        "scenario_id": scenario.id,
                        "res_id": res_id,
                        "partner_id": partners.get(res_id, False),
                        "enrolled_at": now,
                        "is_holdout": scenario._is_holdout(res_id),
                    }
                    for res_id in res_ids
                ]
            )
            traces = participants._schedule_steps(step)
            traces.write({"state": "processing", "claimed_at": now, "scheduled_at": now})
            runnable = traces._skip_or_cancel_unfit()
            mails = runnable.filtered(lambda t: t.step_id.action_type == "mail")
            if mails:
                # The recipient checks of the mail sender: no address, invalid address.
                self.env["email.automation.mail.sender"]._prepare_envelopes(mails)
            self.env.flush_all()
            outcome = Counter((trace.state, trace.reason or False) for trace in traces)
        return outcome

    # ------------------------------------------------------------------
    # The report
    # ------------------------------------------------------------------

    @api.model
    def _report_html(self, steps):
        reasons = dict(self.env["email.automation.trace"]._fields["reason"]._description_selection(self.env))
        actions = dict(self.env["email.automation.step"]._fields["action_type"]._description_selection(self.env))
        rows = Markup()
        for step, outcome in steps:
            done = outcome.get(("processing", False), 0)
            stopped = Markup()
            for (state, reason), count in sorted(outcome.items(), key=lambda item: -item[1]):
                if state == "processing":
                    continue
                label = reasons.get(reason) or reason or ""
                if state == "scheduled":
                    label = self.env._("%(reason)s (deferred)", reason=label)
                stopped += Markup('<li class="o_ea_simulate_reason">%s: <b>%s</b></li>') % (label, count)
            rows += Markup(
                '<tr class="o_ea_simulate_step"><td>%s</td><td>%s</td>'
                '<td class="text-end o_ea_simulate_done">%s</td><td><ul class="mb-0">%s</ul></td></tr>'
            ) % (step.name, actions.get(step.action_type, ""), done, stopped)
        header = Markup("<thead><tr><th>%s</th><th>%s</th><th class='text-end'>%s</th><th>%s</th></tr></thead>") % (
            self.env._("Step"),
            self.env._("Action"),
            self.env._("Would Be Done"),
            self.env._("Stopped, and Why"),
        )
        return Markup('<table class="table table-sm o_ea_simulate_table">%s<tbody>%s</tbody></table>') % (header, rows)
