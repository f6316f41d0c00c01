from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# The trace timestamps each engagement KPI counts.
ENGAGEMENT_FIELDS = ("delivered_at", "opened_at", "clicked_at", "replied_at", "bounced_at")


class EmailAutomationScenario(models.Model):
    """Delivery and engagement KPIs, from what Odoo and the providers' webhooks reported."""

    _inherit = "email.automation.scenario"

    mail_sent_count = fields.Integer(string="E-mails Sent", compute="_compute_engagement")
    delivered_ratio = fields.Float(string="Delivered (%)", compute="_compute_engagement", digits=(5, 1))
    opened_ratio = fields.Float(string="Opened (%)", compute="_compute_engagement", digits=(5, 1))
    clicked_ratio = fields.Float(string="Clicked (%)", compute="_compute_engagement", digits=(5, 1))
    replied_ratio = fields.Float(string="Replied (%)", compute="_compute_engagement", digits=(5, 1))
    bounced_ratio = fields.Float(string="Bounced (%)", compute="_compute_engagement", digits=(5, 1))

    def _compute_engagement(self):
        counts = {}
        if self.ids:
            # One query for all the scenarios shown; test e-mails are not the audience's.
            self.env["email.automation.trace"].flush_model()
            self.env.cr.execute(
                SQL(
                    """
                    SELECT scenario_id, count(*),
                           count(delivered_at), count(opened_at), count(clicked_at),
                           count(replied_at), count(bounced_at)
                      FROM email_automation_trace
                     WHERE scenario_id IN %s AND sent_at IS NOT NULL AND message_id IS NOT NULL
                       AND is_test IS NOT TRUE
                  GROUP BY scenario_id
                    """,
                    tuple(self.ids),
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for scenario in self:
            sent, *engaged = counts.get(scenario.id, (0, 0, 0, 0, 0, 0))
            scenario.mail_sent_count = sent
            ratios = [100.0 * count / sent if sent else 0.0 for count in engaged]
            (
                scenario.delivered_ratio,
                scenario.opened_ratio,
                scenario.clicked_ratio,
                scenario.replied_ratio,
                scenario.bounced_ratio,
            ) = ratios

    def action_view_engagement(self):
        """The e-mails behind a KPI: `engagement_field` in the context names the timestamp."""
        field_name = self.env.context.get("engagement_field")
        if field_name not in ENGAGEMENT_FIELDS:
            raise UserError(self.env._("Unknown engagement figure."))
        return self._action_view(
            "crm_email_automation.email_automation_trace_action",
            [("scenario_id", "=", self.id), (field_name, "!=", False), ("is_test", "=", False)],
        )
