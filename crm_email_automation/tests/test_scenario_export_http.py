"""The "Export as YAML" action: a download over HTTP, read with the user's own rights."""

import yaml

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestScenarioExportHttp(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env,
            "yaml_manager",
            password="yaml_manager_pw",
            groups="base.group_user,crm_email_automation.group_manager,sales_team.group_sale_salesman",
        )
        new_test_user(cls.env, "yaml_salesman", password="yaml_salesman_pw", groups="base.group_user")
        cls.scenario = cls.env.ref("crm_email_automation.email_automation_scenario_demo_welcome")

    def test_action_downloads_the_scenario_as_yaml(self):
        action = self.scenario.with_user(self.manager).action_export_yaml()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.authenticate("yaml_manager", "yaml_manager_pw")
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response.headers["Content-Disposition"])
        self.assertIn(f"{self.scenario.code}.yaml", response.headers["Content-Disposition"])
        document = yaml.safe_load(response.text)
        self.assertEqual([s["code"] for s in document["scenarios"]], [self.scenario.code])
        self.assertEqual(response.text, self.env["email.automation.scenario.document"]._export_text(self.scenario))

    def test_bad_or_forbidden_requests_get_4xx(self):
        self.authenticate("yaml_manager", "yaml_manager_pw")
        self.assertEqual(self.url_open("/email_automation/scenarios/export?ids=abc").status_code, 400)
        self.assertEqual(self.url_open("/email_automation/scenarios/export?ids=999999999").status_code, 400)
        # A user without e-mail automation rights reads no scenario.
        self.authenticate("yaml_salesman", "yaml_salesman_pw")
        response = self.url_open(f"/email_automation/scenarios/export?ids={self.scenario.id}")
        self.assertEqual(response.status_code, 403)
        self.assertNotIn("code:", response.text)
