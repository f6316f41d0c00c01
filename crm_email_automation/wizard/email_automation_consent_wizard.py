from odoo import api, fields, models
from odoo.exceptions import UserError

WIZARD_EVENTS = {"granted": "granted", "withdrawn": "withdrawn"}


class EmailAutomationConsentWizard(models.TransientModel):
    """A manager changes contacts' e-mail consent; the reason goes to the ledger."""

    _name = "email.automation.consent.wizard"
    _description = "Change E-mail Consent"

    partner_ids = fields.Many2many("res.partner", string="Contacts")
    # From a lead: its consent tab, and its contact's ledger when it has one.
    lead_ids = fields.Many2many("crm.lead", string="Leads")
    new_state = fields.Selection(
        [("granted", "Granted"), ("withdrawn", "Withdrawn")], string="New Consent", required=True, default="granted"
    )
    wording_id = fields.Many2one(
        "email.automation.consent.wording",
        default=lambda self: self.env["email.automation.consent.wording"]._get_current(),
        help="The consent text the person agreed to.",
    )
    reason = fields.Text(required=True, help="Why the consent changes, for example: signed paper form of 3 March.")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        context = self.env.context
        if (
            "partner_ids" in fields_list
            and not res.get("partner_ids")
            and context.get("active_model") == "res.partner"
            and context.get("active_ids")
        ):
            res["partner_ids"] = [(6, 0, context["active_ids"])]
        return res

    def _chosen_leads(self):
        """Every lead of the wizard, in the user's environment (see `_chosen_partners`)."""
        # sudo: only the ids are read; the access check that follows is the user's.
        return self.sudo().lead_ids.with_env(self.env)

    def _chosen_partners(self):
        """Every contact of the wizard, in the user's environment (a many2many read by the
        user leaves out the contacts its record rules hide, which must be refused, not skipped)."""
        # sudo: only the ids are read; the access check that follows is the user's.
        return self.sudo().partner_ids.with_env(self.env)

    def action_apply(self):
        self.ensure_one()
        self.env["res.partner"]._check_email_automation_manager()
        # The rights on every chosen contact first (access rules and companies), those the
        # record rules hide from the user included: the change is made as superuser.
        leads, partners = self._chosen_leads(), self._chosen_partners()
        if not leads and not partners:
            raise UserError(self.env._("Contacts: choose the contacts whose consent changes."))
        wording = self.wording_id if self.new_state == "granted" else None
        leads.check_access("write")
        partners.check_access("write")
        if leads:
            leads._email_consent_change(WIZARD_EVENTS[self.new_state], wording, self.reason)
        # A lead's contact has its ledger entry from the lead's change already.
        (partners - leads.partner_id)._email_consent_record(
            WIZARD_EVENTS[self.new_state], "user", wording=wording, reason=self.reason
        )
        return {"type": "ir.actions.act_window_close"}
