from odoo import api, models

from .mail_template_payload import PAYLOAD_CONTEXT_KEY


class EmailAutomationMailSender(models.AbstractModel):
    _inherit = "email.automation.mail.sender"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _render(self, envelopes):
        """Render the e-mails of participants enrolled by an outside event with that event's
        payload in the template's context: one rendering per event, the others in batch."""
        plain, by_event = [], {}
        for envelope in envelopes:
            # sudo: the queue reads which event enrolled the participant.
            event = envelope["trace"].participant_id.sudo().outside_event_id
            if event:
                by_event.setdefault(event, []).append(envelope)
            else:
                plain.append(envelope)
        result = super()._render(plain) if plain else None
        for event, group in by_event.items():
            traces = {id(envelope): envelope["trace"] for envelope in group}
            for envelope in group:
                # The template takes its environment from the trace's scenario.
                envelope["trace"] = envelope["trace"].with_context(**{PAYLOAD_CONTEXT_KEY: event.payload or {}})
            try:
                super()._render(group)
            finally:
                for envelope in group:
                    envelope["trace"] = traces[id(envelope)]
        return result
