from collections import defaultdict

from odoo import api, fields, models, tools
from odoo.osv import expression


class EmailAutomationGoalCheck(models.Model):
    """A record that changed in a field a running scenario's goal reads: the queue checks
    at its next run (woken at commit) whether its participants converted.

    The write only inserts these rows, so a user's write pays one insert; the goal is
    evaluated in batch by the queue, as the scenario's responsible user.
    """

    _name = "email.automation.goal.check"
    _description = "E-mail Automation Pending Goal Check"
    _order = "id"

    scenario_id = fields.Many2one("email.automation.scenario", required=True, ondelete="cascade", index=True)
    res_id = fields.Integer(string="Document ID", required=True)
    changed_at = fields.Datetime(required=True, default=fields.Datetime.now)

    @api.model
    def _process_goal_checks(self, limit=5000):
        """Convert the participants whose record changed to match the goal; return them."""
        # sudo: the queue's bookkeeping, whoever runs it.
        checks = self.sudo().search([], limit=limit)
        by_scenario = defaultdict(dict)
        for check in checks:
            # The last change of the record counts: an earlier unrelated write must not
            # date the conversion back.
            by_scenario[check.scenario_id][check.res_id] = check.changed_at
        Participant = self.env["email.automation.participant"]
        converted = Participant.browse()
        for scenario, reached_at in by_scenario.items():
            if scenario.state in ("running", "paused"):
                converted |= Participant._check_goals(scenario, reached_at)
        checks.unlink()
        return converted

    @api.model
    def _cron_sweep_goals(self):
        """Look at the goal of every running or paused scenario for all its open
        participants: for goals a write of the record itself does not reveal (a field of a
        related record, a change made in SQL). Its own scheduled action, every 15 minutes."""
        scenarios = (
            self.env["email.automation.scenario"]
            .sudo()
            .search([("state", "in", ("running", "paused")), ("goal_domain", "not in", (False, "", "[]"))])
        )
        Participant = self.env["email.automation.participant"]
        converted = Participant.browse()
        for scenario in scenarios:
            converted |= Participant._check_goals(scenario)
        return converted

    # ------------------------------------------------------------------
    # Which writes may reach a goal
    # ------------------------------------------------------------------

    @api.model
    @tools.ormcache("model_name")
    def _get_goal_watchers(self, model_name):
        """((scenario id, frozenset of field names), ...): the running or paused scenarios
        on `model_name` with a goal, and the fields whose write may change its outcome (the
        first field of each path of the goal, and what stored computed ones depend on)."""
        # sudo: the hook runs for every user writing a record; it only reads configuration.
        scenarios = (
            self.env["email.automation.scenario"]
            .sudo()
            .search(
                [
                    ("model_name", "=", model_name),
                    ("state", "in", ("running", "paused")),
                    ("goal_domain", "not in", (False, "", "[]")),
                ]
            )
        )
        Model = self.env[model_name]
        watchers = []
        for scenario in scenarios:
            try:
                goal = scenario._parse_domain("goal_domain", model_name)
            except Exception:  # noqa: BLE001 - a broken goal watches nothing; the queue reports it
                continue
            names = {leaf[0].split(".")[0] for leaf in goal if expression.is_leaf(leaf) and isinstance(leaf[0], str)}
            watchers.append((scenario.id, frozenset(self._with_dependencies(Model, names))))
        return tuple(watchers)

    @api.model
    def _with_dependencies(self, Model, names):
        """`names` plus, for stored computed fields, the fields they are computed from."""
        result, todo = set(), list(names)
        while todo:
            name = todo.pop()
            field = Model._fields.get(name)
            if name in result or not field:
                continue
            result.add(name)
            if field.compute and field.store:
                depends, _context = field.get_depends(Model)
                todo.extend(path.split(".")[0] for path in depends)
        return result
