import json
from collections import defaultdict

from odoo import api, fields, models


class EmailAutomationOutsideEvent(models.Model):
    """An event an outside system (shop, website, backend) posted to the event API.

    It names what happened, the record it happened to and when, and carries a payload
    that the scenarios it enrolled read in their templates (`payload`) and step conditions.
    """

    _name = "email.automation.outside.event"
    _description = "E-mail Automation Outside Event"
    _order = "id desc"

    name = fields.Char(string="Event", required=True, readonly=True, index=True)
    res_model = fields.Char(string="Document Model", required=True, readonly=True, index=True)
    res_id = fields.Many2oneReference(string="Document ID", model_field="res_model", required=True, readonly=True)
    payload = fields.Json(readonly=True)
    payload_text = fields.Text(string="Payload (JSON)", compute="_compute_payload_text")
    occurred_at = fields.Datetime(required=True, readonly=True)
    api_user_id = fields.Many2one("res.users", string="Posted By", readonly=True, ondelete="set null")
    company_id = fields.Many2one("res.company", readonly=True, index=True, help="The posting API user's company.")
    idempotency_key = fields.Char(readonly=True)
    participant_ids = fields.One2many("email.automation.participant", "outside_event_id", string="Participants")
    participant_count = fields.Integer(string="Enrolled", compute="_compute_participant_count")

    @api.depends("payload")
    def _compute_payload_text(self):
        for event in self:
            event.payload_text = json.dumps(event.payload or {}, indent=2, ensure_ascii=False, sort_keys=True)

    @api.depends("participant_ids")
    def _compute_participant_count(self):
        for event in self:
            event.participant_count = len(event.participant_ids)

    @api.model
    def _receive(self, events, api_user, idempotency_key=None):
        """Record `events` (validated dicts: name, res_model, res_id, payload, occurred_at)
        and enrol their records in the running scenarios that listen for their names.

        Returns the event records, in the order given, and {event id: enrolled count}.
        Private: the caller has checked the API key and the input.
        """
        # sudo: the API user has no right on the module's models; the controller checked it.
        records = self.sudo().create(
            [
                {
                    "name": event["name"],
                    "res_model": event["res_model"],
                    "res_id": event["res_id"],
                    "payload": event["payload"],
                    "occurred_at": event["occurred_at"],
                    "api_user_id": api_user.id,
                    "company_id": api_user.company_id.id,
                    "idempotency_key": idempotency_key or False,
                }
                for event in events
            ]
        )
        return records, records._enrol_listeners()

    @api.model
    def _contacts(self, contacts):
        """Find (by normalized address) or create the contacts events name by e-mail and
        record the consent an event proves, through the consent ledger. `contacts`: dicts
        with email, name, the event's name and consent (proof with its wording, or None). Returns one
        (partner, created, consent recorded) per contact, in order."""
        # sudo: the API user reads no contact; it names them by address.
        Partner = self.env["res.partner"].sudo()
        emails = list({contact["email"] for contact in contacts})
        found = {}
        for partner in Partner.search([("email_normalized", "in", emails)], order="id"):
            found.setdefault(partner.email_normalized, partner)
        results = []
        for contact in contacts:
            partner = found.get(contact["email"])
            created = not partner
            if created:
                partner = found[contact["email"]] = Partner.create({"name": contact["name"], "email": contact["email"]})
            proof = contact["consent"]
            consent_recorded = bool(proof) and partner.email_consent_state != "granted"
            if consent_recorded:
                partner._email_consent_record(
                    "granted",
                    "api",
                    wording=proof["wording"],
                    ip_address=proof["ip_address"],
                    reason=self.env._(
                        "Consent given on %(place)s at %(time)s UTC, reported with the event %(event)s.",
                        place=proof["source"],
                        time=proof["consented_at"],
                        event=contact["event_name"],
                    ),
                )
            results.append((partner, created, consent_recorded))
        return results

    def _enrol_listeners(self):
        """Enrol each event's record in the running "Outside event" scenarios of its name and
        model, one `_enrol` per scenario for the whole batch; the participants keep the event."""
        enrolled = dict.fromkeys(self.ids, 0)
        # sudo: the scenarios are read for the queue, as the queue's own enrolment does.
        scenarios = (
            self.env["email.automation.scenario"]
            .sudo()
            .search(
                [
                    ("state", "=", "running"),
                    ("trigger", "=", "on_outside_event"),
                    ("outside_event_name", "in", list(set(self.mapped("name")))),
                    ("model_name", "in", list(set(self.mapped("res_model")))),
                ]
            )
        )
        for scenario in scenarios:
            events = self.filtered(lambda e, s=scenario: e.name == s.outside_event_name and e.res_model == s.model_name)
            # A record named by several events of the batch enters once, with the first of them.
            first = {}
            for event in events:
                first.setdefault(event.res_id, event)
            participants = scenario._enrol(list(first), triggered_at={i: e.occurred_at for i, e in first.items()})
            by_event = defaultdict(list)
            for participant in participants:
                by_event[first[participant.res_id]].append(participant.id)
            for event, participant_ids in by_event.items():
                participants.browse(participant_ids).write({"outside_event_id": event.id})
                enrolled[event.id] += len(participant_ids)
        if any(enrolled.values()):
            self.env["email.automation.queue"]._wake_up()
        return enrolled
