from odoo import fields, models
from odoo.exceptions import AccessError, UserError


class EmailAutomationParticipant(models.Model):
    """What a participation does next, and its removal by a salesperson with a reason."""

    _inherit = "email.automation.participant"

    next_step_id = fields.Many2one("email.automation.step", compute="_compute_next_step")
    next_step_at = fields.Datetime(string="Next Step Due", compute="_compute_next_step")
    exit_note = fields.Text(string="Removal Reason", readonly=True)
    removed_by_id = fields.Many2one("res.users", readonly=True, ondelete="set null")

    def _compute_next_step(self):
        saved_ids = [participant_id for participant_id in self.ids if isinstance(participant_id, int)]
        traces = self.env["email.automation.trace"].search(
            [("participant_id", "in", saved_ids), ("state", "=", "scheduled")],
            order="scheduled_at desc, id desc",
        )
        # Latest first: the earliest due trace of each participant is written last.
        next_traces = {trace.participant_id.id: trace for trace in traces}
        for participant in self:
            trace = next_traces.get(participant.id)
            participant.next_step_id = trace.step_id if trace else False
            participant.next_step_at = trace.scheduled_at if trace else False

    def _filtered_document_access(self, operation):
        """The participations whose document the current user may `operation` (read, write)."""
        allowed_ids = set()
        for model_name, participants in self.grouped("res_model").items():
            if model_name not in self.env:
                continue
            records = self.env[model_name].browse(participants.mapped("res_id")).exists()
            allowed_res_ids = set(records._filtered_access(operation).ids)
            allowed_ids.update(p.id for p in participants if p.res_id in allowed_res_ids)
        return self.filtered(lambda p: p.id in allowed_ids)

    def action_remove_from_scenario(self):
        self._check_can_remove()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Remove from Scenario"),
            "res_model": "email.automation.remove.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_participant_ids": self.ids},
        }

    def _check_can_remove(self):
        """Raise unless the current user may take these participations out of their scenario.

        E-mail Automation managers always may; users only for documents they may modify.
        """
        user = self.env.user
        if not user.has_group("crm_email_automation.group_user"):
            raise AccessError(self.env._("Only E-mail Automation users can remove a document from a scenario."))
        self.check_access("read")
        not_running = self.filtered(lambda p: p.state != "running")
        if not_running:
            raise UserError(
                self.env._(
                    "%(names)s is no longer in progress in its scenario.",
                    names=", ".join(not_running.mapped("record_name")),
                )
            )
        if user.has_group("crm_email_automation.group_manager"):
            return
        forbidden = self - self._filtered_document_access("write")
        if forbidden:
            raise AccessError(
                self.env._(
                    "You may not remove %(names)s from its scenario: you cannot modify the document. "
                    "Ask an E-mail Automation manager.",
                    names=", ".join(forbidden.mapped("record_name")),
                )
            )

    def _remove_from_scenario(self, note):
        """Cancel these participations and what they still had to do, keeping why and who.

        The caller checks the right to do it first (`_check_can_remove`).
        """
        # sudo: E-mail Automation users only read participants and traces; the right to remove
        # was checked on the document by _check_can_remove.
        participants = self.sudo()
        participants._end("cancelled", "manual")
        participants.write({"exit_note": note, "removed_by_id": self.env.uid})
        for participant in participants:
            if participant.res_model not in self.env:
                continue
            record = self.env[participant.res_model].sudo().browse(participant.res_id).exists()
            if record and hasattr(record, "message_post"):
                record.message_post(
                    body=self.env._(
                        "Removed from the e-mail scenario %(scenario)s. Reason: %(reason)s",
                        scenario=participant.scenario_id.name,
                        reason=note,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
