from odoo.tests import HttpCase, new_test_user, tagged

from .common import warm_up_http_statics


@tagged("post_install", "-at_install")
class TestScenarioFormTour(HttpCase):
    """The scenario form as a manager with Sales and "E-mail Automation / Manager" sees it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["res.lang"]._activate_lang("en_US")
        cls.manager = new_test_user(
            cls.env,
            "tour_form_manager",
            password="tour_form_manager",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_manager",
            lang="en_US",
        )
        cls.template = cls.env["mail.template"].create(
            {
                "name": "Qualified lead follow-up",
                "model_id": cls.env["ir.model"]._get_id("crm.lead"),
                "subject": "About {{ object.name }}",
                "body_html": "<p>Following up.</p>",
            }
        )

    def test_manager_picks_the_stage_by_name_and_sees_no_buttons_before_saving(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        self.start_tour("/odoo", "crm_email_automation_scenario_form_tour", login="tour_form_manager")
        scenario = self.env["email.automation.scenario"].search([("name", "=", "Qualified lead tour")])
        self.assertEqual(len(scenario), 1)
        self.assertEqual(scenario.trigger_field_id, self.env["ir.model.fields"]._get("crm.lead", "stage_id"))
        self.assertEqual(scenario.trigger_value_ref, self.env.ref("crm.stage_lead2").id)
        self.assertFalse(scenario.has_goal)
        self.assertFalse(scenario.goal_domain)
        self.assertEqual(scenario.step_ids.mail_template_id, self.template)
