from odoo import api, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError


class EmailAutomationScenario(models.Model):
    """Testing before going live: test mode never diverts a real participation's e-mail,
    test runs on one record, and previews of a step's e-mail."""

    # A concern of its own, in a file of its own: the scenario's model file is long enough.
    _inherit = "email.automation.scenario"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Test mode only before real participations, or after them
    # ------------------------------------------------------------------

    def write(self, vals):
        if "is_test_mode" in vals:
            self.filtered(lambda s: s.is_test_mode != bool(vals["is_test_mode"]))._check_test_mode_switch()
        return super().write(vals)

    def _check_test_mode_switch(self):
        """Refuse switching test mode while real participations are in progress: switched
        on, their customers' e-mails would go to the test inbox; switched off, e-mails
        prepared as tests would reach the customers."""
        if not self:
            return
        # sudo: the participations in progress decide, whoever may read them.
        busy = (
            self.env["email.automation.participant"]
            .sudo()
            ._read_group(
                [("scenario_id", "in", self.ids), ("state", "=", "running"), ("is_test", "=", False)],
                ["scenario_id"],
            )
        )
        if busy:
            raise ValidationError(
                self.env._(
                    "Test Mode: scenario “%(name)s” has participants in progress; switching test mode now "
                    "would send their e-mails to the wrong inbox. Stop the scenario first, or use "
                    "“Test on a Record”, which never involves real participants.",
                    name=busy[0][0].sudo().name,
                )
            )

    # ------------------------------------------------------------------
    # Records to test on
    # ------------------------------------------------------------------

    @api.model
    def _check_testing_rights(self):
        """Tests, previews and simulations read records with the responsible's rights:
        for e-mail automation managers only (a form's onchange checks no access right)."""
        if not self.env.su and not self.env.user.has_group("crm_email_automation.group_manager"):
            raise AccessError(self.env._("Only e-mail automation managers can test, preview or simulate scenarios."))

    def _check_test_record(self, res_id):
        """The record `res_id`, read as the scenario's responsible, if both the current
        user and the responsible may read it; else a clear error."""
        self.ensure_one()
        self._check_testing_rights()
        if not res_id:
            raise UserError(self.env._("Choose a record to test on."))
        record = self.env[self.model_name].browse(res_id)
        if not record.exists() or not record._filtered_access("read"):
            raise UserError(self.env._("You may not read this record, or it no longer exists."))
        if res_id not in self._accessible_ids([res_id]):
            raise UserError(
                self.env._(
                    "The scenario's responsible, %(user)s, may not read this record: the scenario would skip it.",
                    user=self.user_id.name,
                )
            )
        return self._responsible_records([res_id])

    @api.model
    def _check_test_address(self, email):
        if not tools.email_normalize(email or ""):
            raise UserError(self.env._("Test Address: enter a valid e-mail address for the test e-mails."))
        return tools.email_normalize(email)

    def _start_test_run(self, res_id, test_email, steps=None):
        """A test participation of the record `res_id`, its first steps (or `steps`)
        scheduled; nothing runs until asked."""
        self.ensure_one()
        test_email = self._check_test_address(test_email)
        record = self._check_test_record(res_id)
        partners = self._get_recipient_partners(record)
        # sudo: the test participation is created like the queue creates real ones; the
        # callers are for e-mail automation managers only.
        participant = (
            self.env["email.automation.participant"]
            .sudo()
            .create(
                {
                    "scenario_id": self.id,
                    "res_id": record.id,
                    "partner_id": partners.get(record.id, False),
                    "is_test": True,
                    "test_email": test_email,
                }
            )
        )
        participant._schedule_steps(steps or self.step_ids.filtered(lambda s: not s.parent_id))
        return participant

    # ------------------------------------------------------------------
    # Preview
    # ------------------------------------------------------------------

    def _render_preview(self, step, res_id):
        """{'lang', 'subject', 'body_html', 'email_to'} of `step`'s e-mail for the record
        `res_id` as its recipient would get it: in their language, rendered as the
        scenario's responsible like the queue renders it."""
        self.ensure_one()
        if step.scenario_id != self or step.action_type != "mail" or not step.mail_template_id:
            raise UserError(self.env._("Only an e-mail step of this scenario has an e-mail to preview."))
        record = self._check_test_record(res_id)
        Sender = self.env["email.automation.mail.sender"]
        partner_id = self._get_recipient_partners(record).get(record.id)
        partner = record.env["res.partner"].browse(partner_id)
        lang = partner.lang or Sender._record_lang(record) or self.company_id.partner_id.lang or "en_US"
        template = step.mail_template_id.with_env(self._responsible_env())
        if template.lang:
            lang = template._render_lang([record.id])[record.id] or lang
        values = Sender._render_template(template, lang, [record.id])[record.id]
        return {
            "lang": lang,
            "subject": values.get("subject") or "",
            "body_html": values.get("body_html") or "",
            "email_to": self._get_recipient_email(record, partner),
        }

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def _open_testing_wizard(self, model, name, context):
        self._check_testing_rights()
        return {
            "type": "ir.actions.act_window",
            "res_model": model,
            "view_mode": "form",
            "target": "new",
            "name": name,
            "context": context,
        }

    def action_open_simulation(self):
        self.ensure_one()
        return self._open_testing_wizard(
            "email.automation.simulate", self.env._("Simulate"), {"default_scenario_id": self.id}
        )

    def action_open_test_run(self):
        self.ensure_one()
        return self._open_testing_wizard(
            "email.automation.test.run", self.env._("Test on a Record"), {"default_scenario_id": self.id}
        )


class EmailAutomationStep(models.Model):
    _inherit = "email.automation.step"

    def action_open_preview(self):
        self.ensure_one()
        return self.scenario_id._open_testing_wizard(
            "email.automation.preview", self.env._("Preview"), {"default_step_id": self.id}
        )
