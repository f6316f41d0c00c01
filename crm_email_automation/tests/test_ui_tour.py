from odoo.tests import HttpCase, new_test_user, tagged

from ..providers.hosts import ALLOWED_HOSTS_PARAM
from .common import warm_up_http_statics
from .provider_server import ProviderServer


@tagged("post_install", "-at_install")
class TestUiTour(HttpCase):
    """A manager builds a two-step scenario in the browser and starts it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        # A manager who is not an administrator, in English whatever the database's language.
        cls.env["res.lang"]._activate_lang("en_US")
        cls.manager = new_test_user(
            cls.env, "tour_manager", groups="base.group_user,crm_email_automation.group_manager", lang="en_US"
        )
        partner_model = cls.env["ir.model"]._get("res.partner")
        cls.template_welcome, cls.template_reminder = cls.env["mail.template"].create(
            [
                {
                    "name": "Tour welcome template",
                    "model_id": partner_model.id,
                    "subject": "Welcome {{ object.name }}",
                    "body_html": "<p>Welcome aboard.</p>",
                },
                {
                    "name": "Tour reminder template",
                    "model_id": partner_model.id,
                    "subject": "Still there, {{ object.name }}?",
                    "body_html": "<p>A friendly reminder.</p>",
                },
            ]
        )

    def test_create_and_start_scenario_in_the_browser(self):
        self.start_tour("/odoo", "crm_email_automation_create_scenario_tour", login="tour_manager")

        scenario = self.env["email.automation.scenario"].search([("name", "=", "Tour scenario")])
        self.assertEqual(len(scenario), 1)
        self.assertEqual(scenario.state, "running")
        self.assertEqual(scenario.model_name, "res.partner")
        self.assertEqual(scenario.trigger, "manual")
        self.assertTrue(scenario.date_started)

        steps = scenario.step_ids.sorted(lambda s: (s.sequence, s.id))
        self.assertEqual(steps.mapped("name"), ["Welcome", "Reminder"])
        first, second = steps
        self.assertEqual(first.trigger_type, "begin")
        self.assertFalse(first.parent_id)
        self.assertEqual(first.action_type, "mail")
        self.assertEqual(first.mail_template_id, self.template_welcome)
        self.assertEqual(second.trigger_type, "after_parent")
        self.assertEqual(second.parent_id, first, "The second step follows the first one.")
        self.assertEqual((second.delay, second.delay_unit), (2, "days"))
        self.assertEqual(second.action_type, "mail")
        self.assertEqual(second.mail_template_id, self.template_reminder)


@tagged("post_install", "-at_install")
class TestIdleQuotationTour(HttpCase):
    """A user with only Sales and "E-mail Automation / Manager" builds the idle-quotation
    scenario on quotations from scratch in the browser and starts it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["res.lang"]._activate_lang("en_US")
        # Odoo's default: templates with expressions need the Mail Template Editor right.
        cls.env["ir.config_parameter"].set_param("mail.restrict.template.rendering", "1")
        cls.manager = new_test_user(
            cls.env,
            "tour_sales_manager",
            # HttpCase.start_tour logs in with the login as the password.
            password="tour_sales_manager",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_manager",
            lang="en_US",
        )
        # The manager wrote the template, with the usual placeholders.
        cls.template = (
            cls.env["mail.template"]
            .with_user(cls.manager)
            .create(
                {
                    "name": "Idle quotation reminder",
                    "model_id": cls.env["ir.model"]._get_id("sale.order"),
                    "subject": "Your quotation {{ object.name }}",
                    "body_html": "<p>Your quotation <t t-out='object.name'/> is waiting for you.</p>",
                    "email_from": "{{ (object.user_id.email_formatted or object.company_id.email_formatted) }}",
                    "partner_to": "{{ object.partner_id.id }}",
                    "lang": "{{ object.partner_id.lang }}",
                }
            )
        )

    def test_manager_builds_idle_quotation_scenario_in_the_browser(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        self.start_tour(
            "/odoo?debug=1",
            "crm_email_automation_idle_quotation_tour",
            login="tour_sales_manager",
        )

        scenario = self.env["email.automation.scenario"].search([("create_uid", "=", self.manager.id)])
        self.assertEqual(len(scenario), 1)
        self.assertEqual(scenario.name, "Idle quotation tour")
        self.assertEqual(scenario.state, "running")
        self.assertEqual(scenario.model_name, "sale.order")
        self.assertEqual(scenario.trigger, "on_value")
        self.assertEqual(scenario.trigger_field_id, self.env["ir.model.fields"]._get("sale.order", "state"))
        self.assertEqual(scenario.trigger_selection_ids.mapped("value"), ["sent"])
        self.assertEqual(scenario.recipient_field_id.name, "partner_id")
        domains = [
            [tuple(term) for term in scenario._parse_domain(name, "sale.order")] for name in ("domain", "goal_domain")
        ]
        self.assertEqual(domains, [[("amount_total", ">", 0)], [("state", "=", "sale")]])

        step = scenario.step_ids
        self.assertEqual(len(step), 1)
        self.assertEqual((step.delay, step.delay_unit), (48, "hours"))
        self.assertEqual(step.action_type, "mail")
        self.assertEqual(step.trigger_type, "begin")
        self.assertEqual(step.mail_template_id, self.template)

    def test_manager_sets_the_sending_policy_in_the_browser(self):
        params = self.env["ir.config_parameter"]
        params.set_param("crm_email_automation.consent_policy", "opt_in")
        params.set_param("crm_email_automation.retention_months", "24")
        self.start_tour("/odoo", "crm_email_automation_sending_policy_tour", login="tour_sales_manager")
        self.assertEqual(params.get_param("crm_email_automation.consent_policy"), "opt_out")
        self.assertEqual(params.get_param("crm_email_automation.retention_months"), "12")


@tagged("post_install", "-at_install")
class TestProviderTour(HttpCase):
    """An administrator configures a Brevo provider in the browser and tests it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.server = ProviderServer(api_key="tour-brevo-key").start()
        cls.addClassCleanup(cls.server.stop)
        cls.env["res.lang"]._activate_lang("en_US")
        new_test_user(
            cls.env,
            "tour_admin",
            groups="base.group_user,base.group_system,crm_email_automation.group_manager",
            lang="en_US",
        )
        # The local Brevo stand-in is not an official Brevo host: allow it.
        cls.env["ir.config_parameter"].set_param(ALLOWED_HOSTS_PARAM, "127.0.0.1")
        cls.provider = cls.env["email.automation.provider"].create(
            {"name": "Brevo (tour)", "kind": "brevo", "api_base_url": cls.server.brevo_url}
        )

    def test_configure_and_test_provider_in_the_browser(self):
        self.start_tour("/odoo", "crm_email_automation_provider_tour", login="tour_admin")

        self.assertEqual(self.provider.api_key, "tour-brevo-key")
        self.assertTrue(self.provider.last_test_at)
        self.assertIn("Connected", self.provider.last_test_result)
        (account_call,) = [r for r in self.server.requests if r.path.endswith("/account")]
        self.assertEqual(account_call.headers.get("api-key"), "tour-brevo-key")
