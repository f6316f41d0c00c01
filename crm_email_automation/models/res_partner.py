import secrets

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from .email_automation_consent import (
    CONSENT_SOURCES,
    CURRENT_USER,
    EVENT_STATES,
    in_ledger_write,
    keeping_consent,
    ledger_write,
)

CONSENT_STATES = [
    ("unknown", "Unknown"),
    ("pending", "Pending confirmation"),
    ("granted", "Granted"),
    ("withdrawn", "Withdrawn"),
]
DOI_SCOPE = "crm_email_automation.consent_confirmation"
CONSENT_FIELDS = {"email_consent_state", "email_consent_date", "email_consent_source", "email_consent_wording_id"}
# Written only inside `ledger_write()`, by the module's private consent methods.
GUARDED_FIELDS = CONSENT_FIELDS | {"email_consent_nonce"}
# The states a manager may give a contact when creating it (an import of opted-in or
# opted-out customers): each is recorded in the ledger. "pending" comes only from a double
# opt-in request.
CREATE_EVENTS = {"granted": "imported", "withdrawn": "withdrawn"}


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Changed only through the consent wizard (managers) and the module's own flows, which
    # write the ledger entry that proves the change; direct writes are refused (see write()).
    email_consent_state = fields.Selection(
        CONSENT_STATES,
        string="E-mail Marketing Consent",
        default="unknown",
        required=True,
        readonly=True,
        copy=False,
        index=True,
    )
    email_consent_date = fields.Datetime(string="Consent Changed On", readonly=True, copy=False)
    email_consent_source = fields.Selection(CONSENT_SOURCES, string="Consent Source", readonly=True, copy=False)
    email_consent_wording_id = fields.Many2one(
        "email.automation.consent.wording", string="Consent Wording", readonly=True, copy=False
    )
    email_consent_ids = fields.One2many("email.automation.consent", "partner_id", string="Consent History")
    email_consent_nonce = fields.Char(copy=False, groups="base.group_system")
    # The keyed hash of the address, which the suppression list is keyed by: lets one query
    # (the audience sync) match contacts with suppressed addresses, erased ones included.
    email_automation_email_hash = fields.Char(
        compute="_compute_email_automation_email_hash", store=True, index=True, groups="base.group_system"
    )
    email_automation_cap_count = fields.Integer(
        string="Marketing E-mail Cap",
        help="At most this many marketing e-mails per cap period for this contact; 0: the default cap.",
    )

    @api.depends("email_normalized")
    def _compute_email_automation_email_hash(self):
        Suppression = self.env["email.automation.suppression"]
        for partner in self:
            email = partner.email_normalized
            partner.email_automation_email_hash = Suppression._hash(email) if email else False

    # ------------------------------------------------------------------
    # Consent changes (private; callers check the right to do them)
    # ------------------------------------------------------------------

    def _email_consent_record(
        self, event, source, wording=None, ip_address=None, user_agent=None, reason=None, user=CURRENT_USER
    ):
        """Append the ledger entries for `event` and move the partners to the state it gives."""
        if not self:
            return self.env["email.automation.consent"]
        entries = self.env["email.automation.consent"]._record(
            self,
            event,
            source,
            wording=wording,
            ip_address=ip_address,
            user_agent=user_agent,
            reason=reason,
            user=user,
        )
        vals = {
            "email_consent_state": EVENT_STATES[event],
            "email_consent_date": fields.Datetime.now(),
            "email_consent_source": source,
        }
        if wording:
            vals["email_consent_wording_id"] = wording.id
        self._email_consent_write(vals)
        if EVENT_STATES[event] == "withdrawn":
            self.env["email.automation.trace"]._cancel_pending_for_partners(self, "unsubscribed")
        return entries

    def _email_consent_write(self, vals):
        """The only way to the consent fields: callers append the ledger entry first."""
        with ledger_write():
            # sudo: the consent fields are read-only for users; the ledger entry is the proof.
            self.sudo().write(vals)

    def _email_automation_unsubscribe(self, source, ip_address=None, user_agent=None, emails=None):
        """Withdraw consent, blacklist the address for marketing, cancel pending marketing mail."""
        self._email_consent_record("withdrawn", source, ip_address=ip_address, user_agent=user_agent)
        addresses = set(emails or []) | set(self.mapped("email_normalized"))
        # sudo: the blacklist is written for the recipient, who has no access to it.
        Blacklist = self.env["mail.blacklist"].sudo()
        for email in addresses - {False}:
            Blacklist._add(email, message=self.env._("Unsubscribed from e-mail automation"))

    # ------------------------------------------------------------------
    # Double opt-in
    # ------------------------------------------------------------------

    def _email_consent_confirm_url(self):
        """The signed, expiring, single-use link of the confirmation e-mail."""
        self.ensure_one()
        # sudo: the nonce is a system field; the token signs it with the database secret.
        partner = self.sudo()
        hours = int(self.env["ir.config_parameter"].sudo().get_param("crm_email_automation.doi_validity_hours", 72))
        wording = partner.email_consent_wording_id or self.env["email.automation.consent.wording"]._get_current()
        token = tools.misc.hash_sign(
            self.env(su=True),
            DOI_SCOPE,
            [partner.id, partner.email_consent_nonce or "", wording.id or 0, partner._email_consent_address_key()],
            expiration_hours=hours,
        )
        return f"{self.get_base_url()}/email_automation/consent/{token}"

    def _email_consent_address_key(self):
        """What binds a confirmation link to the address it was sent to (a keyed hash)."""
        self.ensure_one()
        email = self.sudo().email_normalized
        return self.env["email.automation.suppression"]._hash(email)[:32] if email else ""

    def _email_consent_link_address_ok(self, payload):
        """Whether the contact still has the address the link was sent to."""
        self.ensure_one()
        key = self._email_consent_address_key()
        return bool(key) and payload[3] == key

    def _email_consent_wording(self):
        self.ensure_one()
        return self.sudo().email_consent_wording_id or self.env["email.automation.consent.wording"]._get_current()

    def _email_consent_send_confirmation(self, source="user"):
        """Send the double opt-in e-mail to the partners that have an address and no consent yet."""
        partners = self.filtered(lambda p: p.email_normalized and p.email_consent_state != "granted")
        if not partners:
            raise UserError(self.env._("None of these contacts has an e-mail address waiting for consent."))
        withdrawn = partners.filtered(lambda p: p.email_consent_state == "withdrawn")
        if withdrawn and not self.env.su and not self.env.user.has_group("crm_email_automation.group_manager"):
            # A person who said no is asked again only by a manager's decision.
            raise AccessError(
                self.env._(
                    "These contacts withdrew their consent; only an e-mail automation manager can ask them "
                    "again: %(names)s",
                    names=", ".join(withdrawn.mapped("display_name")),
                )
            )
        wording = self.env["email.automation.consent.wording"]._get_current()
        for partner in partners:
            # The nonce makes the link single-use; it is a system-only field.
            partner._email_consent_write({"email_consent_nonce": secrets.token_urlsafe(16)})
        partners._email_consent_record("doi_sent", source, wording=wording)
        template = self.env.ref("crm_email_automation.mail_template_consent_confirmation")
        # sudo: the confirmation e-mail is sent by the company, whoever asks for it.
        template.sudo().send_mail_batch(partners.ids, email_layout_xmlid=False)
        return partners

    def _email_consent_confirm(self, payload, ip_address=None, user_agent=None):
        """Confirm from a verified token payload; False if the link was already used."""
        self.ensure_one()
        partner = self.sudo()
        _partner_id, nonce, wording_id, _address_key = payload
        if not nonce or partner.email_consent_nonce != nonce or not partner._email_consent_link_address_ok(payload):
            return False
        partner._email_consent_write({"email_consent_nonce": False})
        wording = self.env["email.automation.consent.wording"].sudo().browse(wording_id).exists()
        partner._email_consent_record(
            "confirmed", "email_link", wording=wording or None, ip_address=ip_address, user_agent=user_agent
        )
        return True

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _check_email_automation_manager(self):
        if not self.env.user.has_group("crm_email_automation.group_manager"):
            raise AccessError(self.env._("Only e-mail automation managers can do this."))

    def action_email_consent_change(self):
        self._check_email_automation_manager()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Change E-mail Consent"),
            "res_model": "email.automation.consent.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_ids": self.ids},
        }

    def action_email_consent_request(self):
        """Double opt-in: e-mail the contacts a confirmation link (form and list action)."""
        self.check_access("write")
        partners = self._email_consent_send_confirmation()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("Consent request sent to %(count)s contact(s).", count=len(partners)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # ------------------------------------------------------------------
    # Imports
    # ------------------------------------------------------------------

    def _check_consent_fields_write(self, vals):
        """Refuse a direct change of the consent fields: the ledger is the only way to them.

        Values equal to the current ones are no change (a form saving what it read).
        """
        if in_ledger_write():
            return
        changed = set(vals) & GUARDED_FIELDS
        if changed:
            # sudo: compare with the stored values, some of which are system-only fields.
            current = self.sudo()
            for name in list(changed):
                field = self._fields[name]
                new = field.convert_to_cache(vals[name], current, validate=False)
                if all(field.convert_to_cache(partner[name], partner, validate=False) == new for partner in current):
                    changed.discard(name)
        if changed:
            raise AccessError(
                self.env._(
                    "E-mail consent is changed only with a record in the consent ledger: use Change Consent "
                    "(managers) or Request Consent by E-mail. Refused fields: %(fields)s",
                    fields=", ".join(sorted(changed)),
                )
            )

    @api.model
    def _consent_create_values(self, vals):
        """Split the consent values of one create (context defaults included) from the rest.

        Returns (vals without consent fields, ledger event or None, wording or None). Only a
        manager may create a contact with a consent, and only granted or withdrawn: the
        ledger then says who did it, when and how (import or API).
        """
        context = self.env.context
        consent = {
            name: vals[name] if name in vals else context.get(f"default_{name}")
            for name in GUARDED_FIELDS
            if name in vals or context.get(f"default_{name}")
        }
        state = consent.pop("email_consent_state", None) or "unknown"
        wording_id = consent.pop("email_consent_wording_id", None)
        if in_ledger_write() or (state == "unknown" and not wording_id and not any(consent.values())):
            return vals, None, None
        if any(consent.values()) or state not in ("unknown", *CREATE_EVENTS):
            raise AccessError(
                self.env._(
                    "A contact is created with a consent state only (granted or withdrawn); its date, source "
                    "and confirmation are set by the consent ledger."
                )
            )
        self._check_email_automation_manager()
        vals = {name: value for name, value in vals.items() if name not in GUARDED_FIELDS}
        wording = self.env["email.automation.consent.wording"].browse(wording_id or ()).exists()
        return vals, CREATE_EVENTS.get(state), wording

    @api.model_create_multi
    def create(self, vals_list):
        split = [self._consent_create_values(vals) for vals in vals_list]
        # The defaults given in the context were read above: the ledger sets the fields. A
        # whole new context, because these keys must be gone, not set to another value.
        defaults = {f"default_{name}" for name in GUARDED_FIELDS}
        context = {key: value for key, value in self.env.context.items() if key not in defaults}
        Partner = self.with_context(context)  # pylint: disable=context-overridden
        partners = super(ResPartner, Partner).create([vals for vals, _event, _wording in split])
        source = "import" if self.env.context.get("import_file") else "api"
        for partner, (_vals, event, wording) in zip(partners, split, strict=True):
            if event:
                # Contacts created with consent (an import of opted-in customers): the ledger says so.
                partner._email_consent_record(
                    event,
                    source,
                    wording=wording if event == "imported" and wording else None,
                    reason=self.env._("Contact created with this consent (import or API)."),
                )
        return partners.with_env(self.env)

    def write(self, vals):
        if keeping_consent() and not in_ledger_write():
            vals = {name: value for name, value in vals.items() if name not in GUARDED_FIELDS}
        self._check_consent_fields_write(vals)
        return super().write(vals)
