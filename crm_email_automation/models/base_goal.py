from odoo import fields, models
from odoo.tools import SQL


class Base(models.AbstractModel):
    """Goal hooks of e-mail scenarios: a write that may reach a running scenario's goal
    queues a goal check, so that the conversion is recorded at the queue's next run (woken
    at commit) instead of at the participant's next step, or never after its last one."""

    _inherit = "base"  # pylint: disable=consider-merging-classes-inherited

    def write(self, vals):
        result = super().write(vals)
        if self and self.env.registry.ready and not self._transient and not self._abstract:
            watchers = self.env["email.automation.goal.check"]._get_goal_watchers(self._name)
            scenario_ids = [scenario_id for scenario_id, names in watchers if not names.isdisjoint(vals)]
            if scenario_ids:
                self._email_automation_queue_goal_checks(scenario_ids)
        return result

    def _email_automation_queue_goal_checks(self, scenario_ids):
        # Raw SQL on purpose, as for the enrolment queue (base.py): one INSERT inside the
        # user's write, whatever the number of records and scenarios.
        now = fields.Datetime.now()
        pairs = [(scenario_id, res_id) for scenario_id in scenario_ids for res_id in self.ids]
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO email_automation_goal_check
                            (scenario_id, res_id, changed_at, create_uid, create_date, write_uid, write_date)
                     SELECT queued.scenario_id, queued.res_id, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
                       FROM unnest(%(scenario_ids)s::int[], %(res_ids)s::int[]) AS queued(scenario_id, res_id)
                """,
                now=now,
                uid=self.env.uid,
                scenario_ids=[pair[0] for pair in pairs],
                res_ids=[pair[1] for pair in pairs],
            )
        )
        self.env["email.automation.queue"]._wake_up()
