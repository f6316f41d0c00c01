"""Scenarios whose steps branch on what the recipient does, and the events that decide."""

from datetime import datetime, timezone

from odoo import Command

from ..providers.webhook_events import WebhookEvent
from .common import EmailAutomationCommon

T0 = datetime(2026, 3, 4, 9, 0, 0)  # a Wednesday morning


def event_for(trace, event_type, occurred_at, url=None, message_id=None):
    """The event a webhook, the pixel or the click redirect would record for `trace`."""
    return WebhookEvent(
        event_type=event_type,
        provider_event=event_type,
        message_id=message_id or f"branch-{trace.id}",
        occurred_ms=int(occurred_at.replace(tzinfo=timezone.utc).timestamp()) * 1000,
        trace_ref=trace.id,
        url=url,
    )


class BranchCommon(EmailAutomationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.provider = cls.env["email.automation.provider"].create(
            {"name": "Branch SMTP", "kind": "smtp", "mail_server_id": cls.mail_server.id}
        )
        cls.templates = {
            name: cls._create_template(
                "res.partner",
                subject=f"{name} {{{{ object.name }}}}",
                subject_pl=f"{name} PL {{{{ object.name }}}}",
                body=f"<p>{name}</p>",
                body_pl=f"<p>{name} PL</p>",
            )
            for name in ("Offer", "Thanks", "Reminder", "Link", "Nudge", "Matches", "Other")
        }

    def branch_scenario(self, children, parent_action="mail", parent_values=None, **values):
        """A scenario sending "Offer" at enrolment, then `children` (dicts with a "template"
        name) after it; started."""
        parent_values_extra = parent_values
        parent_values = {"name": "Offer", "trigger_type": "begin", "action_type": parent_action}
        if parent_action == "mail":
            parent_values["mail_template_id"] = self.templates["Offer"].id
        parent_values.update(parent_values_extra or {})
        scenario = self.create_scenario(steps=[parent_values], start=False, provider_id=self.provider.id, **values)
        parent = scenario.step_ids
        scenario.step_ids = [
            Command.create(
                {
                    "name": child.get("template", child.get("name")),
                    "parent_id": parent.id,
                    "action_type": "mail",
                    "mail_template_id": self.templates[child.pop("template", "Thanks")].id,
                    "sequence": 10 + index,
                    **child,
                }
            )
            for index, child in enumerate(children)
        ]
        scenario.action_start()
        return scenario

    def ingest(self, trace, event_type, occurred_at, url=None, message_id=None):
        return self.env["email.automation.event"]._ingest(
            self.provider, [event_for(trace, event_type, occurred_at, url=url, message_id=message_id)]
        )

    def trace_of(self, scenario, partner, step_name):
        return scenario.participant_ids.filtered(lambda p: p.res_id == partner.id).trace_ids.filtered(
            lambda t: t.step_id.name == step_name
        )

    def subjects_to(self, address):
        return sorted(message["Subject"].split(" ")[0] for message in self.smtp.messages_to(address))
