from odoo import fields, models


class EmailAutomationParticipant(models.Model):
    _inherit = "email.automation.participant"  # pylint: disable=consider-merging-classes-inherited

    outside_event_id = fields.Many2one(
        "email.automation.outside.event",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The event posted to the API that enrolled this record; its payload is what the "
        "scenario's templates and step conditions read as `payload`.",
    )

    def _outside_event_payload(self):
        """The payload of the event that enrolled the participant ({} when none)."""
        self.ensure_one()
        # sudo: the payload is read for the queue and the templates, not for the current user.
        return self.sudo().outside_event_id.payload or {}
