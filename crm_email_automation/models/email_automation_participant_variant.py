from odoo import fields, models


class EmailAutomationParticipant(models.Model):
    _inherit = "email.automation.participant"  # pylint: disable=consider-merging-classes-inherited

    # Stored, so that the participants' graph and pivot can be grouped by it.
    conversion_variant_id = fields.Many2one(
        related="conversion_trace_id.variant_id",
        string="Attributed A/B Variant",
        store=True,
        index="btree_not_null",
        help="The A/B variant of the e-mail the conversion is attributed to.",
    )
