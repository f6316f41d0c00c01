from odoo import fields, models


class CrmLead(models.Model):
    """The lead's consent tab works as the contact's: a manager changes the consent with
    Change Consent (a reason, the wording), never by editing the fields; the contact's own
    consent, the one the sending follows, is shown next to it."""

    # A concern of its own, in a file of its own: crm_lead.py holds the capture rules.
    _inherit = "crm.lead"  # pylint: disable=consider-merging-classes-inherited

    email_consent_partner_state = fields.Selection(
        related="partner_id.email_consent_state",
        string="Contact's E-mail Marketing Consent",
        help="The consent of the lead's contact, which the scenarios' marketing e-mails follow.",
    )

    def action_email_consent_change(self):
        self.env["res.partner"]._check_email_automation_manager()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Change E-mail Consent"),
            "res_model": "email.automation.consent.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_lead_ids": self.ids},
        }

    def _email_consent_change(self, state, wording, reason):
        """Record a manager's consent change on the leads, and in the ledger of their
        contacts (private: the wizard checks the rights first)."""
        self.write(
            {
                "email_consent_state": "granted" if state == "granted" else "refused",
                "email_consent_date": fields.Datetime.now(),
                "email_consent_source": "user",
                "email_consent_wording_id": wording.id if state == "granted" and wording else False,
                "email_consent_ip": False,
                "email_consent_user_agent": False,
            }
        )
        partners = self.partner_id
        partners.check_access("write")
        partners._email_consent_record(state, "user", wording=wording if state == "granted" else None, reason=reason)
