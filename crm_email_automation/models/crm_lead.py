from odoo import api, fields, models
from odoo.exceptions import AccessError

from .email_automation_consent import CONSENT_SOURCES

# What a lead records about the consent given when it was captured.
LEAD_CONSENT_FIELDS = {
    "email_consent_state",
    "email_consent_date",
    "email_consent_source",
    "email_consent_wording_id",
    "email_consent_ip",
    "email_consent_user_agent",
}
# Values that record nothing (a new lead's defaults).
LEAD_CONSENT_EMPTY = {"email_consent_state": "unknown", "email_consent_source": "form"}


class CrmLead(models.Model):
    _inherit = "crm.lead"

    email_consent_state = fields.Selection(
        [("unknown", "Unknown"), ("granted", "Granted"), ("refused", "Refused")],
        string="E-mail Marketing Consent",
        default="unknown",
        copy=False,
        help="The consent given when the lead was captured; handed to the contact on conversion.",
    )
    email_consent_date = fields.Datetime(string="Consent Changed On", copy=False)
    email_consent_source = fields.Selection(CONSENT_SOURCES, string="Consent Source", default="form", copy=False)
    email_consent_wording_id = fields.Many2one(
        "email.automation.consent.wording",
        string="Consent Wording",
        copy=False,
        help="The text the person agreed to on the capture form.",
    )
    email_consent_ip = fields.Char(string="Consent IP Address", copy=False)
    email_consent_user_agent = fields.Char(string="Consent User Agent", copy=False)
    email_consent_user_id = fields.Many2one(
        "res.users",
        string="Consent Recorded By",
        readonly=True,
        copy=False,
        help="The manager who recorded the consent on the lead; empty when the person gave it on a web form.",
    )
    # ------------------------------------------------------------------
    # Who may record a consent on a lead
    # ------------------------------------------------------------------

    def _email_consent_values(self, vals, with_defaults=False):
        """The consent values of a create or write that record something."""
        values = {name: vals[name] for name in LEAD_CONSENT_FIELDS if name in vals}
        if with_defaults:
            for name in LEAD_CONSENT_FIELDS - set(values):
                if self.env.context.get(f"default_{name}"):
                    values[name] = self.env.context[f"default_{name}"]
        return {name: value for name, value in values.items() if value and value != LEAD_CONSENT_EMPTY.get(name)}

    def _email_consent_check_author(self):
        """Managers record a consent on a lead, and the public form path: server code that
        runs as superuser (a website form). A user over RPC is neither."""
        if self.env.su or self.env.user.has_group("crm_email_automation.group_manager"):
            return
        raise AccessError(
            self.env._("Only e-mail automation managers (or the web form) can record a consent on a lead.")
        )

    def _email_consent_author(self):
        """Who the ledger names for the consent: the manager, or nobody for a web form."""
        user = self.env.user
        return False if self.env.su or user._is_public() else user.id

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # Set here, always: neither a value nor a context default may name another author.
            if self._email_consent_values(vals, with_defaults=True):
                self._email_consent_check_author()
                vals["email_consent_user_id"] = self._email_consent_author()
            else:
                vals["email_consent_user_id"] = False
        return super().create(vals_list)

    def write(self, vals):
        if "email_consent_user_id" in vals and not self.env.su:
            vals = {name: value for name, value in vals.items() if name != "email_consent_user_id"}
        if set(vals) & LEAD_CONSENT_FIELDS:
            # Setting back the values a form read is no change.
            changed = {
                name
                for name in set(vals) & LEAD_CONSENT_FIELDS
                if any(
                    self._fields[name].convert_to_cache(vals[name], lead, validate=False)
                    != self._fields[name].convert_to_cache(lead[name], lead, validate=False)
                    for lead in self
                )
            }
            if changed:
                self._email_consent_check_author()
                if "email_consent_state" in changed:
                    vals = {**vals, "email_consent_user_id": self._email_consent_author()}
        return super().write(vals)

    # ------------------------------------------------------------------
    # Conversion
    # ------------------------------------------------------------------

    def _handle_partner_assignment(self, force_partner_id=False, create_missing=True):
        res = super()._handle_partner_assignment(force_partner_id=force_partner_id, create_missing=create_missing)
        self._email_consent_hand_over()
        return res

    def _email_consent_hand_over(self):
        """Give the contact the consent captured with the lead, unless it decided since.

        The ledger names who recorded the consent on the lead (a manager, or nobody for the
        person on a web form), not the user who converts the lead.
        """
        for lead in self.filtered(lambda lead: lead.partner_id and lead.email_consent_state == "granted"):
            partner = lead.partner_id
            if partner.email_consent_state in ("granted", "withdrawn"):
                continue
            # sudo: the author of the consent may be a user the converting one cannot read.
            author = lead.sudo().email_consent_user_id
            if author:
                reason = self.env._(
                    "Consent recorded on lead %(lead)s by %(author)s; handed over by %(user)s.",
                    lead=lead.name,
                    author=author.name,
                    user=self.env.user.name,
                )
            else:
                reason = self.env._(
                    "Consent given on the web form with lead %(lead)s; handed over by %(user)s.",
                    lead=lead.name,
                    user=self.env.user.name,
                )
            partner._email_consent_record(
                "granted",
                lead.email_consent_source or "form",
                wording=lead.email_consent_wording_id or None,
                ip_address=lead.email_consent_ip,
                user_agent=lead.email_consent_user_agent,
                reason=reason,
                user=author,
            )

    def action_email_consent_request(self):
        """Double opt-in from a lead: its contact (created if needed) gets the confirmation e-mail."""
        self._handle_partner_assignment(create_missing=True)
        return self.partner_id.action_email_consent_request()
