from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    email_automation_batch_size = fields.Integer(
        string="Queue Batch Size",
        config_parameter="crm_email_automation.batch_size",
        default=200,
        help="How many due steps one worker claims at a time.",
    )
    email_automation_max_attempts = fields.Integer(
        string="Delivery Attempts",
        config_parameter="crm_email_automation.max_attempts",
        default=5,
        help="How many times a temporary delivery error is retried before the step fails.",
    )
    email_automation_stale_claim_minutes = fields.Integer(
        string="Stale Claim Timeout (minutes)",
        config_parameter="crm_email_automation.stale_claim_minutes",
        default=30,
        help="Steps claimed by a worker that stopped answering return to the queue after this time.",
    )
