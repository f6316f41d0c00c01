from odoo import fields, models

PROVIDER_REASONS = [
    ("provider_transient", "Temporary provider error"),
    ("provider_permanent", "Refused by the provider"),
    ("provider_auth", "Provider authentication failed"),
    ("provider_paused", "Provider paused"),
]


class EmailAutomationTrace(models.Model):
    """Which provider sent the e-mail, and what its webhooks reported back."""

    _inherit = "email.automation.trace"

    reason = fields.Selection(selection_add=PROVIDER_REASONS)
    provider_id = fields.Many2one("email.automation.provider", string="Provider", readonly=True, index="btree_not_null")
    provider_message_id = fields.Char(
        string="Provider Message ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The id the provider gave the e-mail; its webhooks name it.",
    )
    open_count = fields.Integer(string="Opens", readonly=True, help="Opens by people.")
    machine_open_count = fields.Integer(
        string="Machine Opens",
        readonly=True,
        help="Opens by a mail client's privacy proxy (Apple Mail), which prefetches every e-mail.",
    )
    click_count = fields.Integer(string="Clicks", readonly=True)
    event_ids = fields.One2many("email.automation.event", "trace_id", string="Tracking Events")
