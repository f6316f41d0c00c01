import base64
import json
import secrets

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError

from .email_automation_consent import CONSENT_SOURCES, EVENT_STATES

CONSENT_STATES = [
    ("unknown", "Unknown"),
    ("pending", "Pending confirmation"),
    ("granted", "Granted"),
    ("withdrawn", "Withdrawn"),
]
DOI_SCOPE = "crm_email_automation.consent_confirmation"
CONSENT_FIELDS = {"email_consent_state", "email_consent_date", "email_consent_source", "email_consent_wording_id"}


class ResPartner(models.Model):
    _inherit = "res.partner"

    # Changed only through the consent wizard (managers) and the module's own flows, which
    # write the ledger entry that proves the change.
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
    email_automation_cap_count = fields.Integer(
        string="Marketing E-mail Cap",
        help="At most this many marketing e-mails per cap period for this contact; 0: the default cap.",
    )

    # ------------------------------------------------------------------
    # Consent changes (private; callers check the right to do them)
    # ------------------------------------------------------------------

    def _email_consent_record(self, event, source, wording=None, ip_address=None, user_agent=None, reason=None):
        """Append the ledger entries for `event` and move the partners to the state it gives."""
        if not self:
            return self.env["email.automation.consent"]
        entries = self.env["email.automation.consent"]._record(
            self, event, source, wording=wording, ip_address=ip_address, user_agent=user_agent, reason=reason
        )
        vals = {
            "email_consent_state": EVENT_STATES[event],
            "email_consent_date": fields.Datetime.now(),
            "email_consent_source": source,
        }
        if wording:
            vals["email_consent_wording_id"] = wording.id
        # sudo: the consent fields are read-only for users; the ledger entry above is the proof.
        self.sudo().write(vals)
        if EVENT_STATES[event] == "withdrawn":
            self.env["email.automation.trace"]._cancel_pending_for_partners(self, "unsubscribed")
        return entries

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
            [partner.id, partner.email_consent_nonce or "", wording.id or 0],
            expiration_hours=hours,
        )
        return f"{self.get_base_url()}/email_automation/consent/{token}"

    def _email_consent_wording(self):
        self.ensure_one()
        return self.sudo().email_consent_wording_id or self.env["email.automation.consent.wording"]._get_current()

    def _email_consent_send_confirmation(self, source="user"):
        """Send the double opt-in e-mail to the partners that have an address and no consent yet."""
        partners = self.filtered(lambda p: p.email_normalized and p.email_consent_state != "granted")
        if not partners:
            raise UserError(self.env._("None of these contacts has an e-mail address waiting for consent."))
        wording = self.env["email.automation.consent.wording"]._get_current()
        for partner in partners:
            # sudo: the nonce makes the link single-use; it is a system-only field.
            partner.sudo().write({"email_consent_nonce": secrets.token_urlsafe(16)})
        partners._email_consent_record("doi_sent", source, wording=wording)
        template = self.env.ref("crm_email_automation.mail_template_consent_confirmation")
        # sudo: the confirmation e-mail is sent by the company, whoever asks for it.
        template.sudo().send_mail_batch(partners.ids, email_layout_xmlid=False)
        return partners

    def _email_consent_confirm(self, payload, ip_address=None, user_agent=None):
        """Confirm from a verified token payload; False if the link was already used."""
        self.ensure_one()
        partner = self.sudo()
        _partner_id, nonce, wording_id = payload
        if not nonce or partner.email_consent_nonce != nonce:
            return False
        partner.email_consent_nonce = False
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

    def _email_automation_personal_data(self):
        """Everything the module holds about the person, as JSON-ready data (Art. 15)."""
        self.ensure_one()
        # sudo: the export is complete by definition; only managers may run it.
        partner = self.sudo()
        Trace = self.env["email.automation.trace"].sudo()
        participants = self.env["email.automation.participant"].sudo().search([("partner_id", "=", partner.id)])
        traces = Trace.search([("participant_id", "in", participants.ids)], order="id")

        def dt(value):
            return fields.Datetime.to_string(value) if value else None

        data = {
            "generated_at": dt(fields.Datetime.now()),
            "contact": {
                "id": partner.id,
                "name": partner.name,
                "email": partner.email,
                "lang": partner.lang,
                "tz": partner.tz,
                "consent": {
                    "state": partner.email_consent_state,
                    "date": dt(partner.email_consent_date),
                    "source": partner.email_consent_source,
                    "wording_version": partner.email_consent_wording_id.version or None,
                },
                "marketing_cap": partner.email_automation_cap_count or None,
                "suppressed": bool(
                    self.env["email.automation.suppression"]._suppressed_emails([partner.email_normalized])
                ),
                "blacklisted": bool(partner.is_blacklisted),
            },
            "consent_ledger": [
                {
                    "date": dt(entry.date),
                    "event": entry.event,
                    "source": entry.source,
                    "email": entry.email or None,
                    "wording_version": entry.wording_id.version or None,
                    "wording_text": tools.html2plaintext(entry.wording_id.text) if entry.wording_id.text else None,
                    "ip_address": entry.ip_address or None,
                    "user_agent": entry.user_agent or None,
                    "done_by": entry.user_id.name or None,
                    "reason": entry.reason or None,
                }
                for entry in partner.email_consent_ids.sorted("id")
            ],
            "participations": [
                {
                    "scenario": participant.scenario_id.name,
                    "document": f"{participant.res_model},{participant.res_id}",
                    "state": participant.state,
                    "enrolled_at": dt(participant.enrolled_at),
                    "ended_at": dt(participant.ended_at),
                }
                for participant in participants
            ],
            "traces": [
                {
                    "scenario": trace.scenario_id.name,
                    "step": trace.step_id.name,
                    "state": trace.state,
                    "reason": trace.reason or None,
                    "scheduled_at": dt(trace.scheduled_at),
                    "sent_at": dt(trace.sent_at),
                    "email_to": trace.email_to or None,
                    "message_id": trace.message_id or None,
                    **{
                        name: dt(trace[name])
                        for name in ("delivered_at", "opened_at", "clicked_at", "replied_at", "bounced_at")
                    },
                }
                for trace in traces
            ],
            "events": [],
        }
        if "email.automation.event" in self.env:
            Event = self.env["email.automation.event"].sudo()
            events = Event.search([("trace_id", "in", traces.ids)])
            exported = [name for name, field in Event._fields.items() if field.store and field.type not in ("binary",)]
            for event in events.read(exported):
                data["events"].append(
                    {key: (value[1] if isinstance(value, tuple) else value) for key, value in event.items()}
                )
        return data

    def action_email_automation_export(self):
        """Art. 15: download everything the module holds about the person as JSON."""
        self.ensure_one()
        self._check_email_automation_manager()
        content = json.dumps(self._email_automation_personal_data(), indent=2, ensure_ascii=False, default=str)
        # sudo: the file is only reachable by its access token, handed to this manager.
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": f"personal-data-{self.id}.json",
                    "datas": base64.b64encode(content.encode()),
                    "mimetype": "application/json",
                    "res_model": "res.partner",
                    "res_id": self.id,
                }
            )
        )
        self.message_post(body=Markup("<p>%s</p>") % self.env._("Personal data exported (GDPR Art. 15)."))
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true&access_token={attachment.generate_access_token()[0]}",
            "target": "self",
        }

    def action_email_automation_erase(self):
        """Art. 17: erase what the module holds about the person; the address stays suppressed."""
        self._check_email_automation_manager()
        self._email_automation_erase()
        return True

    def _email_automation_erase(self):
        # sudo: erasure reaches every record of the module that names the person.
        partners = self.sudo()
        Trace = self.env["email.automation.trace"].sudo()
        participants = self.env["email.automation.participant"].sudo().search([("partner_id", "in", partners.ids)])
        traces = Trace.search([("participant_id", "in", participants.ids)])
        emails = set(partners.mapped("email_normalized")) | {
            tools.email_normalize(address) for address in traces.mapped("email_to") if address
        }
        emails |= set(partners.email_consent_ids.mapped("email"))
        emails -= {False, None}
        traces.filtered(lambda t: t.state in ("scheduled", "processing"))._finish("cancelled", "erased")
        logged = traces.mail_message_id
        traces.write({"email_to": False, "reason_detail": False, "mail_message_id": False})
        # The logged copies of the e-mails hold the person's name and text.
        logged.unlink()
        if "email.automation.event" in self.env:
            Event = self.env["email.automation.event"].sudo()
            events = Event.search([("trace_id", "in", traces.ids)])
            personal = {
                name: False
                for name, field in Event._fields.items()
                if field.store
                and field.type in ("char", "text", "html", "binary")
                and not field.required
                and name not in ("event_type", "provider", "message_id")
            }
            if personal:
                events.write(personal)
        participants.write({"partner_id": False})
        partners.email_consent_ids._erase_personal_data()
        # The address stays suppressed, kept only as a keyed hash.
        Suppression = self.env["email.automation.suppression"]
        Suppression._suppress(emails, "erased")
        Suppression._get_or_create(emails).write({"email": False})
        self.env["mail.blacklist"].sudo().with_context(active_test=False).search(
            [("email", "in", list(emails))]
        ).unlink()
        for partner in partners:
            entry = self.env["email.automation.consent"]._record(
                partner, "erased", "user", reason=self.env._("Personal data erased (GDPR Art. 17).")
            )
            entry._erase_personal_data()
        partners.write(
            {
                "email_consent_state": "withdrawn",
                "email_consent_date": fields.Datetime.now(),
                "email_consent_source": "user",
                "email_consent_nonce": False,
            }
        )

    # ------------------------------------------------------------------
    # Imports
    # ------------------------------------------------------------------

    def _check_consent_fields_write(self, vals_list):
        """Consent changes need a ledger entry: only managers (who get one) or the module."""
        if self.env.su or not any(set(vals) & CONSENT_FIELDS for vals in vals_list):
            return
        self._check_email_automation_manager()

    @api.model_create_multi
    def create(self, vals_list):
        self._check_consent_fields_write(vals_list)
        partners = super().create(vals_list)
        granted = partners.filtered(lambda p: p.email_consent_state == "granted")
        if granted:
            # Contacts created with consent (an import of opted-in customers): the ledger says so.
            source = "import" if self.env.context.get("import_file") else "api"
            self.env["email.automation.consent"]._record(granted, "imported", source)
        return partners

    def write(self, vals):
        self._check_consent_fields_write([vals])
        return super().write(vals)
