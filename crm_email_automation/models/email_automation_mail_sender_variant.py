from collections import defaultdict

from odoo import api, models


class EmailAutomationMailSender(models.AbstractModel):
    """A/B variants in the send path: each e-mail of a step with variants gets its
    participant's variant (once; kept on the trace), that variant's template and subject."""

    _inherit = "email.automation.mail.sender"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _render(self, envelopes):
        self._assign_variants(envelopes)
        for envelope in envelopes:
            variant = envelope["trace"].variant_id
            if variant.mail_template_id:
                envelope["template"] = variant.mail_template_id
        res = super()._render(envelopes)
        self._render_variant_subjects(envelopes)
        return res

    @api.model
    def _assign_variants(self, envelopes):
        """Give the traces of steps with variants their participant's variant, after
        deciding the automatic winners whose rule is now met (the rest get the winner)."""
        traces = self.env["email.automation.trace"].concat(*(envelope["trace"] for envelope in envelopes))
        steps = traces.step_id.filtered("variant_ids")
        if not steps:
            return
        steps._ab_decide_due_winners()
        by_variant = defaultdict(list)
        for trace in traces.filtered(lambda t: not t.variant_id and t.step_id in steps):
            by_variant[trace.step_id._ab_pick_variant(trace.participant_id.id)].append(trace.id)
        for variant, trace_ids in by_variant.items():
            # sudo: the queue records which e-mail it sends, whoever runs it.
            self.env["email.automation.trace"].browse(trace_ids).sudo().variant_id = variant

    @api.model
    def _render_variant_subjects(self, envelopes):
        """Replace the template's subject by the variant's, rendered in the e-mail's language
        as the scenario's responsible (as the template is)."""
        groups = defaultdict(list)
        for envelope in envelopes:
            trace = envelope["trace"]
            if trace.state == "processing" and trace.variant_id.subject:
                groups[trace.scenario_id, trace.variant_id, envelope["lang"]].append(envelope)
        for (scenario, variant, lang), group in groups.items():
            variant = variant.with_env(scenario._responsible_env())
            try:
                subjects = variant._render_field("subject", [e["record"].id for e in group], set_lang=lang)
            except Exception as error:  # noqa: BLE001 - a broken subject fails its e-mails, not the batch
                for envelope in group:
                    envelope["trace"]._finish("failed", "render_error", str(error))
                continue
            for envelope in group:
                envelope["subject"] = subjects.get(envelope["record"].id) or envelope.get("subject")
                if envelope["is_test"]:
                    # The template's fields were masked already; the new subject is too.
                    self._mask_contact_emails(envelope)
