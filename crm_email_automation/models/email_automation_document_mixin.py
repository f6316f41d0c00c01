from collections import Counter

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.osv import expression


class EmailAutomationDocumentMixin(models.AbstractModel):
    """The "E-mail Automation" smart button of a document: its participations in scenarios.

    Only participations of documents the current user may read are counted and listed.
    """

    _name = "email.automation.document.mixin"
    _description = "E-mail Automation on a Document"

    email_automation_participant_count = fields.Integer(
        string="E-mail Automation",
        compute="_compute_email_automation_participant_count",
        groups="crm_email_automation.group_user",
    )

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_email_automation_participant_count(self):
        counts = Counter()
        for participant in self._email_automation_participants():
            for res_id in self._email_automation_owner_ids(participant):
                counts[res_id] += 1
        for record in self:
            record.email_automation_participant_count = counts[record.id]

    def _email_automation_participant_domain(self):
        """The participations shown on these records (override to add more)."""
        return [("res_model", "=", self._name), ("res_id", "in", self.ids)]

    def _email_automation_owner_ids(self, participant):
        """The ids of the records of `self`'s model a participation is shown on."""
        return {participant.res_id} if participant.res_model == self._name else set()

    def _email_automation_participants(self):
        """The participations of these records that the current user may see."""
        saved = self.filtered(lambda record: isinstance(record.id, int))
        if not saved:
            return self.env["email.automation.participant"]
        participants = self.env["email.automation.participant"].search(saved._email_automation_participant_domain())
        return participants._filtered_document_access("read")

    def action_view_email_automation_participants(self):
        self.ensure_one()
        if not self.env.user.has_group("crm_email_automation.group_user"):
            raise AccessError(self.env._("Only E-mail Automation users can see a document's scenarios."))
        participants = self._email_automation_participants()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_email_automation.email_automation_participant_action"
        )
        action.update(
            {
                "name": self.env._("E-mail Automation"),
                "domain": [("id", "in", participants.ids)],
                "context": {"create": False},
            }
        )
        return action


# Applied here rather than in crm_lead.py / res_partner.py, which hold the consent fields.
class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "email.automation.document.mixin"]


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "email.automation.document.mixin"]

    def _email_automation_participant_domain(self):
        # A contact also shows the participations where it is the recipient (its orders, leads).
        return expression.OR([[("partner_id", "in", self.ids)], super()._email_automation_participant_domain()])

    def _email_automation_owner_ids(self, participant):
        return super()._email_automation_owner_ids(participant) | {participant.partner_id.id}
