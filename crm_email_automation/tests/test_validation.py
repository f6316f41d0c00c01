from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestValidation(EmailAutomationCommon):
    def assertRefused(self, field_label, values, model="email.automation.scenario"):
        """Creating `values` fails with an error naming `field_label`, and saves nothing."""
        Model = self.env[model]
        before = Model.search_count([])
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            Model.create(values)
        self.assertIn(field_label, str(caught.exception))
        self.assertEqual(Model.search_count([]), before)

    def scenario_values(self, **values):
        return {
            "name": "Bad",
            "model_id": self.env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            **values,
        }

    def test_a_segment_that_does_not_parse(self):
        self.assertRefused("Segment", self.scenario_values(domain="[('email', '=' "))
        self.assertRefused("Segment", self.scenario_values(domain="[('no_such_field', '=', 1)]"))
        self.assertRefused("Goal", self.scenario_values(goal_domain="{'not': 'a list'}"))

    def test_a_template_for_another_model(self):
        values = self.scenario_values(
            step_ids=[
                Command.create({"name": "Wrong", "action_type": "mail", "mail_template_id": self.template_order.id})
            ]
        )
        self.assertRefused("E-mail Template", values)

    def test_a_date_field_of_the_wrong_type(self):
        values = self.scenario_values(
            trigger="on_date", date_field_id=self.env["ir.model.fields"]._get("res.partner", "name").id
        )
        self.assertRefused("Date Field", values)

    def test_a_negative_delay(self):
        values = self.scenario_values(
            step_ids=[
                Command.create(
                    {"name": "Past", "action_type": "mail", "mail_template_id": self.template_partner.id, "delay": -1}
                )
            ]
        )
        self.assertRefused("Delay", values)

    def test_a_step_condition_that_does_not_parse(self):
        values = self.scenario_values(
            step_ids=[
                Command.create(
                    {
                        "name": "Cond",
                        "action_type": "mail",
                        "mail_template_id": self.template_partner.id,
                        "condition_domain": "[('x', 'bad operator', 1)]",
                    }
                )
            ]
        )
        self.assertRefused("Condition", values)

    def test_a_trigger_value_from_another_field(self):
        values = self.scenario_values(
            model_id=self.env["ir.model"]._get_id("sale.order"),
            trigger="on_value",
            trigger_field_id=self.env["ir.model.fields"]._get("sale.order", "invoice_status").id,
            trigger_selection_ids=[self.env.ref("sale.selection__sale_order__state__sale").id],
        )
        self.assertRefused("Trigger Values", values)

    def test_test_mode_without_an_address(self):
        self.assertRefused("Test Address", self.scenario_values(is_test_mode=True, test_email="nobody"))

    def test_an_enrol_action_without_its_scenario(self):
        values = {
            "name": "Enrol",
            "model_id": self.env["ir.model"]._get_id("res.partner"),
            "state": "email_automation_enrol",
        }
        self.assertRefused("E-mail Scenario", values, model="ir.actions.server")
