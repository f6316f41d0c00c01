from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .common import warm_up_http_statics


@tagged("post_install", "-at_install")
class TestConsentCoverageTour(HttpCase):
    """A manager (not an administrator) sees on a marketing scenario's form how many records of
    its segment may be e-mailed under the consent policy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["res.lang"]._activate_lang("en_US")
        cls.env["ir.config_parameter"].set_param("crm_email_automation.consent_policy", "opt_in")
        cls.manager = new_test_user(
            cls.env, "tour_coverage_manager", groups="base.group_user,crm_email_automation.group_manager", lang="en_US"
        )
        partners = cls.env["res.partner"].create(
            [{"name": f"Tour coverage {index}", "email": f"tour.coverage.{index}@example.com"} for index in range(3)]
        )
        partners[0]._email_consent_record("granted", "user", reason="Tour customer")
        template = cls.env["mail.template"].create(
            {
                "name": "Tour coverage template",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "subject": "News",
                "body_html": "<p>News.</p>",
            }
        )
        cls.scenario = cls.env["email.automation.scenario"].create(
            {
                "name": "Tour coverage scenario",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "category": "marketing",
                "trigger": "manual",
                "user_id": cls.manager.id,
                "domain": "[('name', '=like', 'Tour coverage %')]",
                "step_ids": [
                    Command.create(
                        {
                            "name": "News",
                            "trigger_type": "begin",
                            "action_type": "mail",
                            "mail_template_id": template.id,
                        }
                    )
                ],
            }
        )

    def test_marketing_scenario_form_counts_who_may_be_emailed(self):
        self.start_tour(
            f"/odoo/action-crm_email_automation.email_automation_scenario_action/{self.scenario.id}",
            "crm_email_automation_consent_coverage_tour",
            login="tour_coverage_manager",
        )
        self.assertEqual(self.scenario.category, "marketing")
        self.assertEqual((self.scenario.consent_mailable_count, self.scenario.consent_segment_count), (1, 3))
