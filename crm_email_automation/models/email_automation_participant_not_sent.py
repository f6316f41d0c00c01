from odoo import api, fields, models


class EmailAutomationParticipant(models.Model):
    """A participation that ends without any e-mail sent says so, with the reason.

    Every e-mail skipped (no consent, suppressed address...), failed or cancelled: the
    participation ends "No E-mail Sent" instead of "Completed", with the reason of its
    first e-mail that did not go. Holdout participants are kept out of the sending on
    purpose: they end "Completed" like the others, marked as holdout.
    """

    # A concern of its own, in a file of its own: the participant's model file stays small.
    _inherit = "email.automation.participant"  # pylint: disable=consider-merging-classes-inherited

    state = fields.Selection(
        selection_add=[("completed",), ("not_sent", "No E-mail Sent")],
        ondelete={"not_sent": "set default"},
    )
    not_sent_reason = fields.Selection(
        selection="_selection_not_sent_reason",
        string="Why No E-mail Was Sent",
        readonly=True,
        help="Why the first e-mail of this participation was not sent (its other e-mails did not go either).",
    )

    @api.model
    def _selection_not_sent_reason(self):
        # The reasons of the traces, whatever module adds to them.
        return self.env["email.automation.trace"]._fields["reason"]._description_selection(self.env)

    def _nothing_sent_reasons(self):
        """{participant id: reason} of the participations of `self` that have e-mail steps
        and none of them sent (holdouts excepted); one query for all."""
        candidates = self.filtered(lambda p: not p.is_holdout)
        if not candidates:
            return {}
        # sudo: the participation's own steps decide how it ends, whoever ends it.
        traces = (
            self.env["email.automation.trace"]
            .sudo()
            .search_fetch(
                [("participant_id", "in", candidates.ids), ("step_id.action_type", "=", "mail")],
                ["participant_id", "state", "reason", "processed_at"],
                order="processed_at, id",
            )
        )
        sent_ids = {trace.participant_id.id for trace in traces if trace.state == "sent"}
        reasons = {}
        for trace in traces:
            participant_id = trace.participant_id.id
            if participant_id in sent_ids:
                continue
            if not reasons.get(participant_id):
                reasons[participant_id] = trace.reason or False
        return reasons

    def _split_nothing_sent(self):
        """(participations that sent nothing, {id: reason}) among `self`."""
        reasons = self._nothing_sent_reasons()
        return self.filtered(lambda p: p.id in reasons), reasons

    def _write_not_sent(self, reasons, values):
        for reason in set(reasons.values()):
            self.filtered(lambda p, r=reason: reasons[p.id] == r).write(
                dict(values, state="not_sent", not_sent_reason=reason)
            )

    def _mark_completed(self):
        nothing_sent, reasons = self._split_nothing_sent()
        nothing_sent._write_not_sent(reasons, {"ended_at": fields.Datetime.now()})
        return super(EmailAutomationParticipant, self - nothing_sent)._mark_completed()

    def _end(self, state, reason=False):
        if state != "completed" or not self:
            return super()._end(state, reason)
        # Ended by an end step: the step ran, but maybe no e-mail did.
        nothing_sent, reasons = self._split_nothing_sent()
        super(EmailAutomationParticipant, nothing_sent)._end("not_sent", reason)
        nothing_sent._write_not_sent(reasons, {})
        return super(EmailAutomationParticipant, self - nothing_sent)._end(state, reason)
