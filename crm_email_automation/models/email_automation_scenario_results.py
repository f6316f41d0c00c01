import math
from collections import defaultdict

from odoo import api, fields, models

from ..statistics.proportions import MIN_PARTICIPANTS_PER_ARM, holdout_uplift

RESULT_FIELDS = (
    "conversion_count",
    "conversion_rate",
    "revenue",
    "attributed_conversion_count",
    "unattributed_conversion_count",
    "attributed_revenue",
    "mailed_participant_count",
    "holdout_participant_count",
    "holdout_conversion_count",
    "mailed_conversion_rate",
    "holdout_conversion_rate",
    "has_uplift",
    "uplift",
    "uplift_lower",
    "uplift_upper",
    "incremental_conversions",
    "incremental_revenue",
    "uplift_status",
)


class EmailAutomationScenario(models.Model):
    """The scenario's results: conversions and revenue of the mailed participants, their
    attribution to steps, and the uplift against the holdout. Computed, never stored."""

    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    conversion_count = fields.Integer(
        string="Conversions", compute="_compute_results", help="Mailed participants whose record reached the goal."
    )
    conversion_rate = fields.Float(string="Conversion Rate (%)", compute="_compute_results", digits=(5, 1))
    revenue = fields.Monetary(
        compute="_compute_results", help="Revenue of the mailed participants' conversions, in the company currency."
    )
    attributed_conversion_count = fields.Integer(
        string="Attributed Conversions",
        compute="_compute_results",
        help="Conversions that followed an open or click within the attribution window.",
    )
    unattributed_conversion_count = fields.Integer(
        string="Conversions Without a Touch",
        compute="_compute_results",
        help="Conversions with no open or click within the attribution window: they count for the "
        "scenario, no step gets them.",
    )
    attributed_revenue = fields.Monetary(compute="_compute_results")
    mailed_participant_count = fields.Integer(string="Mailed Participants", compute="_compute_results")
    holdout_participant_count = fields.Integer(string="Held-out Participants", compute="_compute_results")
    holdout_conversion_count = fields.Integer(string="Held-out Conversions", compute="_compute_results")
    mailed_conversion_rate = fields.Float(string="Mailed (%)", compute="_compute_results", digits=(5, 1))
    holdout_conversion_rate = fields.Float(string="Held Out (%)", compute="_compute_results", digits=(5, 1))
    has_uplift = fields.Boolean(compute="_compute_results")
    uplift = fields.Float(
        string="Uplift (points)",
        compute="_compute_results",
        digits=(5, 1),
        help="Conversion rate of the mailed participants minus that of the held-out ones, in percentage points.",
    )
    uplift_lower = fields.Float(string="Uplift From", compute="_compute_results", digits=(5, 1))
    uplift_upper = fields.Float(string="Uplift To", compute="_compute_results", digits=(5, 1))
    incremental_conversions = fields.Float(
        compute="_compute_results",
        digits=(16, 1),
        help="Conversions the e-mails added: the uplift times the mailed participants.",
    )
    incremental_revenue = fields.Monetary(
        compute="_compute_results",
        help="Revenue the e-mails added: revenue per mailed participant minus revenue per held-out "
        "participant, times the mailed participants.",
    )
    uplift_status = fields.Char(compute="_compute_results")

    @api.depends("participant_ids", "holdout_percent")
    def _compute_results(self):
        # {scenario id: {is_holdout: [participants, conversions, revenue, attributed, attributed revenue]}}
        figures = defaultdict(lambda: {False: [0, 0, 0.0, 0, 0.0], True: [0, 0, 0.0, 0, 0.0]})
        scenario_ids = [scenario_id for scenario_id in self.ids if scenario_id]
        if scenario_ids:
            Participant = self.env["email.automation.participant"]
            for scenario, is_holdout, state, count, revenue in Participant._read_group(
                [("scenario_id", "in", scenario_ids)],
                ["scenario_id", "is_holdout", "state"],
                ["__count", "revenue:sum"],
            ):
                arm = figures[scenario.id][bool(is_holdout)]
                arm[0] += count
                if state == "converted":
                    arm[1] += count
                    arm[2] += revenue
            for scenario, is_holdout, count, revenue in Participant._read_group(
                [("scenario_id", "in", scenario_ids), ("state", "=", "converted"), ("conversion_step_id", "!=", False)],
                ["scenario_id", "is_holdout"],
                ["__count", "revenue:sum"],
            ):
                arm = figures[scenario.id][bool(is_holdout)]
                arm[3] += count
                arm[4] += revenue
        for scenario in self:
            scenario._set_results(figures[scenario.id][False], figures[scenario.id][True])

    def _set_results(self, mailed, holdout):
        mailed_count, conversions, revenue, attributed, attributed_revenue = mailed
        holdout_count, holdout_conversions, holdout_revenue = holdout[:3]
        result = holdout_uplift(
            mailed_count,
            conversions,
            holdout_count,
            holdout_conversions,
            mailed_revenue=revenue,
            holdout_revenue=holdout_revenue,
        )
        values = dict.fromkeys(RESULT_FIELDS, 0)
        values.update(
            conversion_count=conversions,
            conversion_rate=100.0 * conversions / mailed_count if mailed_count else 0.0,
            revenue=revenue,
            attributed_conversion_count=attributed,
            unattributed_conversion_count=conversions - attributed,
            attributed_revenue=attributed_revenue,
            mailed_participant_count=mailed_count,
            holdout_participant_count=holdout_count,
            holdout_conversion_count=holdout_conversions,
            has_uplift=result.enough_data,
            uplift_status=self._uplift_status(result, holdout_count),
        )
        if result.enough_data:
            values.update(
                mailed_conversion_rate=100.0 * result.mailed_rate,
                holdout_conversion_rate=100.0 * result.holdout_rate,
                uplift=100.0 * result.uplift,
                uplift_lower=100.0 * result.uplift_lower,
                uplift_upper=100.0 * result.uplift_upper,
                incremental_conversions=result.incremental_conversions,
                incremental_revenue=result.incremental_revenue,
            )
        self.update(values)

    def _uplift_status(self, result, holdout_count):
        """Why there is no uplift figure yet (empty when there is one)."""
        if result.enough_data:
            return False
        if not holdout_count and not self.holdout_percent:
            return self.env._("No holdout: set a holdout share to measure what the scenario adds.")
        missing = result.missing_mailed + result.missing_holdout
        share = self.holdout_percent / 100.0
        if missing and 0 < share < 1:
            # Enrolments needed for both arms to reach the minimum, given the holdout share.
            missing = math.ceil(max(result.missing_holdout / share, result.missing_mailed / (1 - share)) - 1e-9)
        if missing:
            return self.env._(
                "Not enough data yet: %(count)s more participants needed "
                "(at least %(minimum)s mailed and %(minimum)s held out).",
                count=missing,
                minimum=MIN_PARTICIPANTS_PER_ARM,
            )
        return self.env._("Not enough data yet: no participant has converted so far.")
