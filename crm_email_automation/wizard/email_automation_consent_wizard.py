from odoo import api, fields, models

WIZARD_EVENTS = {"granted": "granted", "withdrawn": "withdrawn"}


class EmailAutomationConsentWizard(models.TransientModel):
    """A manager changes contacts' e-mail consent; the reason goes to the ledger."""

    _name = "email.automation.consent.wizard"
    _description = "Change E-mail Consent"

    partner_ids = fields.Many2many("res.partner", string="Contacts", required=True)
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
        partners = self._chosen_partners()
        partners.check_access("write")
        partners._email_consent_record(
            WIZARD_EVENTS[self.new_state],
            "user",
            wording=self.wording_id if self.new_state == "granted" else None,
            reason=self.reason,
        )
        return {"type": "ir.actions.act_window_close"}
