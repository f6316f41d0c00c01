# One concern per file (CONVENTIONS): consent in res_partner.py, the person's rights here.
# pylint: disable=consider-merging-classes-inherited
import json

from markupsafe import Markup

from odoo import fields, models, tools
from odoo.osv import expression

# The name of the Art. 15 exports that earlier versions kept as attachments on the contact.
LEGACY_EXPORT_NAME = "personal-data-%s.json"


class ResPartner(models.Model):
    """The person's rights (GDPR Art. 15 and 17) over what the module holds about them."""

    _inherit = "res.partner"

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
        """Art. 15: download everything the module holds about the person as JSON.

        The file is streamed to the manager who asks for it (see the controller); it is never
        stored, so nobody else who can read the contact can read it.
        """
        self.ensure_one()
        self._check_email_automation_manager()
        self.check_access("read")
        return {
            "type": "ir.actions.act_url",
            "url": f"/email_automation/personal_data/{self.id}",
            "target": "self",
        }

    def _email_automation_export_file(self):
        """(file name, JSON bytes) of the Art. 15 export, for the current user only."""
        self.ensure_one()
        self._check_email_automation_manager()
        self.check_access("read")
        content = json.dumps(self._email_automation_personal_data(), indent=2, ensure_ascii=False, default=str)
        self.message_post(body=Markup("<p>%s</p>") % self.env._("Personal data exported (GDPR Art. 15)."))
        return LEGACY_EXPORT_NAME % self.id, content.encode()

    def action_email_automation_erase(self):
        """Art. 17: erase what the module holds about the person; the address stays suppressed."""
        self._check_email_automation_manager()
        # The rights on these contacts first: everything after runs as superuser.
        self.check_access("write")
        self._email_automation_erase()
        return True

    def _email_automation_erase_traces(self, partners, emails):
        """The traces of the person: of their participations, and those sent to one of their
        addresses for a record without a contact (a recipient taken from a text field)."""
        # sudo: erasure reaches every record of the module that names the person.
        Trace = self.env["email.automation.trace"].sudo()
        participants = self.env["email.automation.participant"].sudo().search([("partner_id", "in", partners.ids)])
        traces = Trace.search([("participant_id", "in", participants.ids)])
        if emails:
            by_address = Trace.search(
                expression.AND(
                    [
                        [("participant_id.partner_id", "=", False)],
                        expression.OR([[("email_to", "ilike", email)] for email in emails]),
                    ]
                )
            ).filtered(lambda t: tools.email_normalize(t.email_to) in emails)
            traces |= by_address
            participants |= by_address.participant_id
        return participants, traces

    def _email_automation_erase(self):
        # sudo: erasure reaches every record of the module that names the person.
        partners = self.sudo()
        emails = set(partners.mapped("email_normalized")) | set(partners.email_consent_ids.mapped("email"))
        emails -= {False, None}
        participants, traces = self._email_automation_erase_traces(partners, emails)
        emails |= {tools.email_normalize(address) for address in traces.mapped("email_to") if address}
        emails -= {False, None}
        # Mailchimp first: if it cannot be reached, nothing is erased and the manager tries again.
        self.env["email.automation.audience.member"]._erase_members(partners, emails)
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
        self._email_automation_erase_leads(partners, emails)
        # Exports that earlier versions kept as attachments of the contact.
        self.env["ir.attachment"].sudo().search(
            [
                ("res_model", "=", "res.partner"),
                ("res_id", "in", partners.ids),
                ("name", "in", [LEGACY_EXPORT_NAME % partner.id for partner in partners]),
            ]
        ).unlink()
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
        partners._email_consent_write(
            {
                "email_consent_state": "withdrawn",
                "email_consent_date": fields.Datetime.now(),
                "email_consent_source": "user",
                "email_consent_nonce": False,
            }
        )

    def _email_automation_erase_leads(self, partners, emails):
        """The IP address and browser recorded with the consent on the person's leads."""
        domain = [("partner_id", "in", partners.ids)]
        if emails:
            domain = expression.OR([domain, [("email_normalized", "in", list(emails))]])
        # sudo: the person's leads may belong to other salespeople or be archived.
        leads = self.env["crm.lead"].sudo().with_context(active_test=False).search(domain)
        leads.filtered(lambda lead: lead.email_consent_ip or lead.email_consent_user_agent).write(
            {"email_consent_ip": False, "email_consent_user_agent": False}
        )
