from odoo import fields, models

EVENT_TYPES = [
    ("sent", "Accepted by the provider"),
    ("delivered", "Delivered"),
    ("deferred", "Delivery delayed"),
    ("open", "Opened"),
    ("machine_open", "Opened by a machine"),
    ("click", "Clicked"),
    ("reply", "Replied"),
    ("soft_bounce", "Soft bounce"),
    ("hard_bounce", "Hard bounce"),
    ("blocked", "Blocked by the provider"),
    ("rejected", "Rejected by the provider"),
    ("invalid_email", "Invalid address"),
    ("spam", "Spam complaint"),
    ("unsubscribe", "Unsubscribed"),
    ("error", "Provider error"),
]


class EmailAutomationEvent(models.Model):
    """What happened to a sent e-mail, as reported by Odoo or by the provider's webhooks.

    Each provider event is stored once: replays and duplicates share the same `dedupe_key`
    (provider, provider message id, event, timestamp) and are ignored.
    """

    _name = "email.automation.event"
    _description = "E-mail Tracking Event"
    _order = "occurred_at desc, id desc"
    _rec_name = "event_type"

    trace_id = fields.Many2one("email.automation.trace", required=True, ondelete="cascade", index=True)
    scenario_id = fields.Many2one(related="trace_id.scenario_id", store=True, index=True)
    company_id = fields.Many2one(related="trace_id.company_id", store=True)
    provider_id = fields.Many2one("email.automation.provider", readonly=True, ondelete="set null")
    event_type = fields.Selection(EVENT_TYPES, required=True, readonly=True, index=True)
    provider_event = fields.Char(string="Provider Event Name", readonly=True)
    message_id = fields.Char(string="Provider Message ID", readonly=True)
    occurred_at = fields.Datetime(required=True, readonly=True)
    email = fields.Char(string="E-mail", readonly=True)
    url = fields.Char(string="Clicked Link", readonly=True)
    detail = fields.Text(readonly=True, help="The reason the provider gave (bounce, rejection, error).")
    dedupe_key = fields.Char(required=True, readonly=True)

    _sql_constraints = [
        ("dedupe_key_uniq", "unique(dedupe_key)", "Each provider event is recorded once."),
    ]
