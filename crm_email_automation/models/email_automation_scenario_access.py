import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.osv import expression

_logger = logging.getLogger(__name__)

# What anyone who may write scenarios may change on a scenario run with someone else's
# rights: none of it changes which records the scenario reads or where its e-mails go.
OPERATIONAL_FIELDS = frozenset(
    {"name", "active", "sequence", "color", "state", "date_started", "date_stopped", "time_checked_at", "pause_reason"}
)
# The chatter's and activities' own fields.
OPERATIONAL_PREFIXES = ("message_", "activity_", "website_message_")


class EmailAutomationScenario(models.Model):
    """The scenario's responsible user: whose rights it reads, enrols and renders with.

    The queue runs as superuser to claim its work, but every look at a target record
    (enrolment, the checks of a due step, the recipient, the template) is made as the
    responsible user, within the scenario's company only. So a scenario can reach no
    record its responsible could not open, and nobody can borrow a more powerful user's
    rights: a user makes only themselves responsible (an administrator chooses anyone),
    and changes a scenario run with someone else's rights only by taking it over.
    """

    # A concern of its own, in a file of its own: the scenario's model file is long enough.
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    user_id = fields.Many2one(
        "res.users",
        string="Responsible",
        required=True,
        index=True,
        copy=False,
        ondelete="restrict",
        tracking=True,
        default=lambda self: self.env.user,
        domain="[('share', '=', False), ('company_ids', 'in', company_id)]",
        help="The scenario enrols, reads and e-mails only the records this user may open, in the "
        "scenario's company. You can make only yourself responsible; an administrator can choose "
        "anyone.",
    )

    # ------------------------------------------------------------------
    # Who may be responsible, and who may change the scenario
    # ------------------------------------------------------------------

    @api.constrains("user_id", "company_id", "model_id")
    def _check_user_id(self):
        for scenario in self:
            problem = scenario._responsible_problem()
            if problem:
                raise ValidationError(self.env._("Responsible: %(problem)s", problem=problem))

    def _responsible_problem(self):
        """Why the responsible cannot run this scenario, or False."""
        self.ensure_one()
        # sudo: the responsible's groups and companies are checked whoever saves or runs it.
        user = self.user_id.sudo()
        if user.share:
            return self.env._("%(user)s is not an internal user.", user=user.name)
        if self.company_id not in user.company_ids:
            return self.env._(
                "%(user)s has no access to the company %(company)s.", user=user.name, company=self.company_id.name
            )
        if self.model_name in self.env and not self.env[self.model_name].with_user(user).has_access("read"):
            return self.env._(
                "%(user)s may not read %(model)s records.", user=user.name, model=self.model_id.sudo().name
            )
        return False

    def _may_choose_any_responsible(self):
        return self.env.su or self.env.user.has_group("base.group_system")

    def _check_responsible_choice(self, user_ids):
        """Refuse making someone else responsible, unless an administrator does it."""
        if self._may_choose_any_responsible() or set(user_ids) <= {self.env.uid}:
            return
        raise AccessError(
            self.env._(
                "Responsible: you can make only yourself responsible for a scenario. The scenario "
                "runs with its responsible's access rights; an administrator can choose another user."
            )
        )

    def _check_may_change(self):
        """Refuse changing scenarios run with another user's rights, unless an
        administrator does it: taking a scenario over first puts one's own rights on it."""
        if self._may_choose_any_responsible():
            return
        others = self.filtered(lambda s: s.user_id != self.env.user)
        if others:
            raise AccessError(
                self.env._(
                    "Scenario “%(name)s” runs with the access rights of %(user)s: only they or an "
                    "administrator may change it. Make yourself its Responsible to take it over.",
                    name=others[0].name,
                    user=others[0].user_id.name,
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        scenarios = super().create(vals_list)
        scenarios._check_responsible_choice(scenarios.user_id.ids)
        return scenarios

    def write(self, vals):
        if "user_id" in vals:
            self._check_responsible_choice([vals["user_id"]])
        guarded = [
            name for name in vals if name not in OPERATIONAL_FIELDS and not name.startswith(OPERATIONAL_PREFIXES)
        ]
        if guarded and vals.get("user_id") != self.env.uid:
            self._check_may_change()
        return super().write(vals)

    # ------------------------------------------------------------------
    # The responsible's view of the target records
    # ------------------------------------------------------------------

    def _responsible_env(self):
        """The environment the scenario looks at its records in: its responsible's
        rights, its own company only (not the companies of whoever runs the queue)."""
        self.ensure_one()
        context = dict(self.env.context, allowed_company_ids=[self.company_id.id])
        return self.env(user=self.user_id.id, su=False, context=context)

    def _responsible_records(self, res_ids=()):
        """The target model in the responsible's environment, `res_ids` browsed in it."""
        self.ensure_one()
        return self._responsible_env()[self.model_name].browse(res_ids)

    def _accessible_ids(self, res_ids):
        """The ids among `res_ids` the responsible may read in the scenario's company;
        empty when the responsible cannot run the scenario at all."""
        self.ensure_one()
        if not res_ids or self._responsible_problem():
            return set()
        Model = self._responsible_records().with_context(active_test=False)
        return set(Model.search([("id", "in", list(set(res_ids)))]).ids)

    def _search_enrollable(self, domain):
        """The records matching `domain` and the segment that the scenario may take: the
        ones its responsible may read, in its company (not the ones whoever triggered or
        runs the queue may read)."""
        self.ensure_one()
        problem = self._responsible_problem()
        if problem:
            _logger.warning("E-mail automation: scenario %s enrols nothing: %s", self.id, problem)
            return self.env[self.model_name]
        Model = self._responsible_records()
        return Model.search(expression.AND([domain, self._segment_domain(env=Model.env)]))
