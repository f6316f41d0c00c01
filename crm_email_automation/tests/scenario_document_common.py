from odoo import Command

from .common import EmailAutomationCommon


class ScenarioDocumentCommon(EmailAutomationCommon):
    """A scenario that uses what a document carries: a translated name, a watched-fields
    trigger, a goal, the frequency cap, a template with its Polish text, branches on the
    e-mail's outcome and an activity with a translated note."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = cls.env["email.automation.scenario"].create(
            {
                "name": "Quotation follow-up",
                "user_id": cls.user_manager.id,
                "code": "quotation_follow_up",
                "model_id": cls.env["ir.model"]._get_id("sale.order"),
                "category": "marketing",
                "trigger": "on_change",
                "trigger_field_ids": [Command.set(cls.env["ir.model.fields"]._get("sale.order", "state").ids)],
                "domain": "[('amount_total', '>', 100)]",
                "goal_domain": "[('state', '=', 'sale')]",
                "reentry_policy": "period",
                "reentry_days": 14,
                "frequency_cap_mode": "custom",
                "frequency_cap_count": 2,
                "frequency_cap_days": 5,
                "holdout_percent": 10,
            }
        )
        cls.scenario.update_field_translations("name", {"pl_PL": "Kontakt w sprawie oferty"})
        Step = cls.env["email.automation.step"]
        cls.step_mail = Step.create(
            {
                "scenario_id": cls.scenario.id,
                "code": "first_mail",
                "name": "First e-mail",
                "sequence": 1,
                "trigger_type": "begin",
                "delay": 2,
                "delay_unit": "hours",
                "mail_template_id": cls.template_order.id,
            }
        )
        cls.step_opened = Step.create(
            {
                "scenario_id": cls.scenario.id,
                "code": "opened_call",
                "name": "Call who opened",
                "sequence": 2,
                "parent_id": cls.step_mail.id,
                "trigger_type": "mail_opened",
                "trigger_window": 3,
                "action_type": "activity",
                "activity_type_id": cls.env.ref("mail.mail_activity_data_call").id,
                "activity_summary": "Call about the quotation",
                "activity_note": "<p>Ask what is missing.</p>",
                "condition_domain": "[('user_id', '!=', False)]",
            }
        )
        cls.step_opened.update_field_translations("activity_summary", {"pl_PL": "Telefon w sprawie oferty"})
        cls.step_not_opened = Step.create(
            {
                "scenario_id": cls.scenario.id,
                "code": "not_opened_reminder",
                "name": "Reminder",
                "sequence": 3,
                "parent_id": cls.step_mail.id,
                "trigger_type": "mail_not_opened",
                "trigger_window": 3,
                "mail_template_id": cls.template_order.id,
            }
        )
        cls.template_order.email_automation_code = "quotation_mail"
        # The Polish body as the template form saves it (sanitized): the common setup stores
        # it raw, which an import would normalize once.
        polish = cls.template_order.with_context(lang="pl_PL")
        polish.body_html = polish.body_html

    def export(self, scenarios=None):
        return self.env["email.automation.scenario.document"]._export_text(scenarios or self.scenario)

    @staticmethod
    def line_of(text, needle, start=0):
        """The 1-based number of the first line at or after line `start` that holds `needle`."""
        for number, line in enumerate(text.splitlines(), start=1):
            if number > start and needle in line:
                return number
        raise AssertionError(f"{needle!r} is not in the document")
