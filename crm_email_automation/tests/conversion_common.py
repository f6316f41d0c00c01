from datetime import timezone

from odoo import fields

from ..providers.webhook_events import WebhookEvent, normalize_message_id
from .common import EmailAutomationCommon


class ConversionCommon(EmailAutomationCommon):
    """Quotation scenarios whose goal is the confirmed order, and opens and clicks arriving
    as tracking events through the same ingestion as every other tracking signal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)

    def quotation_scenario(self, steps=None, **values):
        if steps is None:
            steps = [
                {"name": "Reminder", "trigger_type": "begin"},
                {"name": "Follow-up", "trigger_type": "after_parent", "delay": 1, "delay_unit": "days"},
            ]
        return self.create_scenario("sale.order", steps=steps, goal_domain="[('state', '=', 'sale')]", **values)

    def track(self, trace, event_type, when, url=None):
        """One open or click (or machine open) of `trace` at `when`, as a tracking event."""
        event = WebhookEvent(
            event_type=event_type,
            provider_event=event_type,
            message_id=normalize_message_id(trace.message_id or str(trace.id)),
            occurred_ms=int(when.replace(tzinfo=timezone.utc).timestamp()) * 1000,
            trace_ref=trace.id,
            email=trace.email_to,
            url=url or ("https://example.com/offer" if event_type == "click" else None),
        )
        result = self.env["email.automation.event"]._ingest(trace.provider_id, [event])
        self.assertEqual(result["recorded"], 1, f"the {event_type} event was not recorded on {trace}")

    def trace_of(self, participant, step_name):
        return participant.trace_ids.filtered(lambda t: t.step_id.name == step_name)

    def now(self):
        return fields.Datetime.now()
