from odoo import fields, models

from .email_automation_consent import CONSENT_SOURCES


class CrmLead(models.Model):
    _inherit = "crm.lead"

    email_consent_state = fields.Selection(
        [("unknown", "Unknown"), ("granted", "Granted"), ("refused", "Refused")],
        string="E-mail Marketing Consent",
        default="unknown",
        copy=False,
        help="The consent given when the lead was captured; handed to the contact on conversion.",
    )
    email_consent_date = fields.Datetime(string="Consent Given On", copy=False)
    email_consent_source = fields.Selection(CONSENT_SOURCES, string="Consent Source", default="form", copy=False)
    email_consent_wording_id = fields.Many2one(
        "email.automation.consent.wording",
        string="Consent Wording",
        copy=False,
        help="The text the person agreed to on the capture form.",
    )
    email_consent_ip = fields.Char(string="Consent IP Address", copy=False)
    email_consent_user_agent = fields.Char(string="Consent User Agent", copy=False)

    def _handle_partner_assignment(self, force_partner_id=False, create_missing=True):
        res = super()._handle_partner_assignment(force_partner_id=force_partner_id, create_missing=create_missing)
        self._email_consent_hand_over()
        return res

    def _email_consent_hand_over(self):
        """Give the contact the consent captured with the lead, unless it decided since."""
        for lead in self.filtered(lambda lead: lead.partner_id and lead.email_consent_state == "granted"):
            partner = lead.partner_id
            if partner.email_consent_state in ("granted", "withdrawn"):
                continue
            partner._email_consent_record(
                "granted",
                lead.email_consent_source or "form",
                wording=lead.email_consent_wording_id or None,
                ip_address=lead.email_consent_ip,
                user_agent=lead.email_consent_user_agent,
                reason=self.env._("Consent given with lead %(lead)s.", lead=lead.name),
            )

    def action_email_consent_request(self):
        """Double opt-in from a lead: its contact (created if needed) gets the confirmation e-mail."""
        self._handle_partner_assignment(create_missing=True)
        return self.partner_id.action_email_consent_request()
