from odoo import api, fields, models
from odoo.tools import SQL


class EmailAutomationScenario(models.Model):
    """Whether the scenario's e-mails carry an open pixel and tracked links, and the raw
    engagement counts next to the human ones the ratios use."""

    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    is_tracking_enabled = fields.Boolean(
        string="Track Opens and Clicks",
        compute="_compute_is_tracking_enabled",
        store=True,
        readonly=False,
        precompute=True,
        help="Add an invisible image (open pixel) and tracked links to the e-mails, whatever the "
        "provider. On by default for marketing, off for transactional e-mail. In some countries "
        "and companies a tracking pixel needs the recipient's consent: turn it off where you "
        "do not have it.",
    )
    human_open_count = fields.Integer(string="Opens", compute="_compute_tracking_counts")
    machine_open_count = fields.Integer(
        string="Machine Opens",
        compute="_compute_tracking_counts",
        help="Opens by privacy proxies and scanners (Apple Mail Privacy Protection prefetches "
        "every e-mail): counted apart, left out of the open rate.",
    )
    human_click_count = fields.Integer(string="Clicks", compute="_compute_tracking_counts")
    machine_click_count = fields.Integer(
        string="Machine Clicks",
        compute="_compute_tracking_counts",
        help="Clicks by link scanners: counted apart, left out of the click rate.",
    )

    @api.depends("category")
    def _compute_is_tracking_enabled(self):
        for scenario in self:
            scenario.is_tracking_enabled = scenario.category == "marketing"

    def _compute_tracking_counts(self):
        counts = {}
        if self.ids:
            # One query for all the scenarios shown; test e-mails are not the audience's.
            self.env["email.automation.trace"].flush_model(
                ["scenario_id", "is_test", "open_count", "machine_open_count", "click_count", "machine_click_count"]
            )
            self.env.cr.execute(
                SQL(
                    """
                    SELECT scenario_id, COALESCE(sum(open_count), 0), COALESCE(sum(machine_open_count), 0),
                           COALESCE(sum(click_count), 0), COALESCE(sum(machine_click_count), 0)
                      FROM email_automation_trace
                     WHERE scenario_id IN %s AND sent_at IS NOT NULL AND is_test IS NOT TRUE
                  GROUP BY scenario_id
                    """,
                    tuple(self.ids),
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for scenario in self:
            (
                scenario.human_open_count,
                scenario.machine_open_count,
                scenario.human_click_count,
                scenario.machine_click_count,
            ) = counts.get(scenario.id, (0, 0, 0, 0))
