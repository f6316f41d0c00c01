from collections import defaultdict

from odoo import fields, models


class EmailAutomationStep(models.Model):
    _inherit = "email.automation.step"  # pylint: disable=consider-merging-classes-inherited

    currency_id = fields.Many2one(related="scenario_id.company_id.currency_id", string="Currency")
    attributed_conversion_count = fields.Integer(
        string="Attributed Conversions",
        compute="_compute_attributed_conversions",
        help="Conversions whose last open or click within the attribution window was this step's e-mail.",
    )
    attributed_revenue = fields.Monetary(
        compute="_compute_attributed_conversions",
        help="The revenue of the conversions attributed to this step, in the company currency.",
    )

    def _compute_attributed_conversions(self):
        figures = defaultdict(lambda: (0, 0.0))
        step_ids = [step_id for step_id in self.ids if step_id]
        if step_ids:
            for step, count, revenue in self.env["email.automation.participant"]._read_group(
                [("conversion_step_id", "in", step_ids), ("state", "=", "converted")],
                ["conversion_step_id"],
                ["__count", "revenue:sum"],
            ):
                figures[step.id] = (count, revenue)
        for step in self:
            step.attributed_conversion_count, step.attributed_revenue = figures[step.id]
