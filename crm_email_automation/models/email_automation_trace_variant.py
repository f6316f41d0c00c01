from odoo import fields, models


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    variant_id = fields.Many2one(
        "email.automation.variant",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The A/B variant this e-mail used; kept when its e-mail is retried.",
    )
