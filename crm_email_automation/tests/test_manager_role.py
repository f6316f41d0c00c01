from xmlrpc.client import Fault

from odoo.tests import HttpCase, new_test_user, tagged

# The codes of odoo/addons/base/controllers/rpc.py.
RPC_USER_ERROR = 2
RPC_ACCESS_ERROR = 4

# A quotation's usual template: sender, recipient and language are expressions.
TEMPLATE_PLACEHOLDERS = {
    "email_from": "{{ (object.user_id.email_formatted or object.company_id.email_formatted) }}",
    "partner_to": "{{ object.partner_id.id }}",
    "lang": "{{ object.partner_id.lang }}",
}


@tagged("post_install", "-at_install")
class TestManagerRole(HttpCase):
    """A user with Sales and "E-mail Automation / Manager" only (no Settings right) does the
    whole job over XML-RPC: picks the target model and its fields, writes the template,
    builds the scenario and starts it. A plain "E-mail Automation / User" does not."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Odoo's default: only Mail Template Editors may save templates with expressions.
        cls.env["ir.config_parameter"].set_param("mail.restrict.template.rendering", "1")
        cls.env["res.lang"]._activate_lang("en_US")
        cls.manager = new_test_user(
            cls.env,
            "role_manager",
            password="role_manager_pw",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_manager",
            lang="en_US",
        )
        cls.user = new_test_user(
            cls.env,
            "role_user",
            password="role_user_pw",
            groups="base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_user",
            lang="en_US",
        )
        cls.sale_order_model = cls.env["ir.model"]._get("sale.order")
        cls.state_field = cls.env["ir.model.fields"]._get("sale.order", "state")

    def setUp(self):
        super().setUp()
        self.db = self.env.cr.dbname

    def rpc(self, login, model, method, *args, **kwargs):
        password = f"{login}_pw"
        uid = self.xmlrpc_common.authenticate(self.db, login, password, {})
        self.assertTrue(uid, f"{login} could not log in")
        return self.xmlrpc_object.execute_kw(self.db, uid, password, model, method, list(args), kwargs)

    # ------------------------------------------------------------------
    # Templates
    # ------------------------------------------------------------------

    def test_manager_creates_quotation_template_with_placeholders(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        template_id = self.rpc(
            "role_manager",
            "mail.template",
            "create",
            {
                "name": "Quotation reminder (manager)",
                "model_id": self.sale_order_model.id,
                "subject": "Your quotation {{ object.name }}",
                "body_html": "<p>Your quotation <t t-out='object.name'/> is waiting.</p>",
                **TEMPLATE_PLACEHOLDERS,
            },
        )
        template = self.env["mail.template"].browse(template_id)
        self.assertEqual(template.model, "sale.order")
        self.assertEqual(
            {name: template[name] for name in TEMPLATE_PLACEHOLDERS},
            TEMPLATE_PLACEHOLDERS,
        )
        # And edits it afterwards.
        self.rpc(
            "role_manager", "mail.template", "write", [template_id], {"lang": "{{ object.partner_id.lang or 'en_US' }}"}
        )
        self.assertEqual(template.lang, "{{ object.partner_id.lang or 'en_US' }}")

    def test_plain_user_cannot_create_template_with_placeholders(self):
        with self.assertRaises(Fault) as caught:
            self.rpc(
                "role_user",
                "mail.template",
                "create",
                {
                    "name": "Quotation reminder (user)",
                    "model_id": self.sale_order_model.id,
                    "subject": "Your quotation",
                    **TEMPLATE_PLACEHOLDERS,
                },
            )
        self.assertEqual(caught.exception.faultCode, RPC_ACCESS_ERROR)
        self.assertIn("Mail Template Editor", caught.exception.faultString)
        self.assertFalse(self.env["mail.template"].search([("name", "=", "Quotation reminder (user)")]))

    # ------------------------------------------------------------------
    # Picking the target model and its fields
    # ------------------------------------------------------------------

    def test_manager_picks_model_fields_and_values_and_starts_scenario(self):
        found = self.rpc("role_manager", "ir.model", "name_search", "Sales Order")
        self.assertIn(self.sale_order_model.id, [model_id for model_id, _name in found])

        fields_ = self.rpc(
            "role_manager",
            "ir.model.fields",
            "search_read",
            [("model_id", "=", self.sale_order_model.id), ("name", "in", ["state", "date_order", "partner_id"])],
            fields=["name", "ttype", "display_name"],
        )
        self.assertEqual(sorted(f["name"] for f in fields_), ["date_order", "partner_id", "state"])
        values = self.rpc(
            "role_manager",
            "ir.model.fields.selection",
            "search_read",
            [("field_id", "=", self.state_field.id)],
            fields=["value", "display_name"],
        )
        sent = next(value for value in values if value["value"] == "sent")

        template_id = self.rpc(
            "role_manager",
            "mail.template",
            "create",
            {"name": "Idle quotation", "model_id": self.sale_order_model.id, "subject": "Still interested?"},
        )
        scenario_id = self.rpc(
            "role_manager",
            "email.automation.scenario",
            "create",
            {
                "name": "Idle quotation (RPC)",
                "model_id": self.sale_order_model.id,
                "trigger": "on_value",
                "trigger_field_id": self.state_field.id,
                "trigger_selection_ids": [(6, 0, [sent["id"]])],
                "goal_domain": "[('state', '=', 'sale')]",
                "step_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Reminder",
                            "trigger_type": "begin",
                            "delay": 48,
                            "delay_unit": "hours",
                            "action_type": "mail",
                            "mail_template_id": template_id,
                        },
                    )
                ],
            },
        )
        # The form reads the pickers' names back.
        (read,) = self.rpc(
            "role_manager",
            "email.automation.scenario",
            "read",
            [scenario_id],
            ["model_id", "trigger_field_id", "trigger_selection_ids", "recipient_field_id"],
        )
        self.assertEqual(read["model_id"][0], self.sale_order_model.id)
        self.assertEqual(read["trigger_field_id"][0], self.state_field.id)
        self.assertIs(self.rpc("role_manager", "email.automation.scenario", "action_start", [scenario_id]), True)
        scenario = self.env["email.automation.scenario"].browse(scenario_id)
        self.assertEqual(scenario.state, "running")
        self.assertEqual(scenario.trigger_selection_ids.mapped("value"), ["sent"])

    def test_manager_reads_no_other_metadata(self):
        """The read right stops at the models a scenario can target and the fields the
        manager may see: no technical models, no transient ones, nor their fields."""
        hidden = self.env["ir.model"].search([("model", "in", ["ir.config_parameter", "res.config.settings"])])
        self.assertEqual(len(hidden), 2)
        found = self.rpc("role_manager", "ir.model", "search", [("id", "in", (hidden | self.sale_order_model).ids)])
        self.assertEqual(found, self.sale_order_model.ids)
        with self.assertRaises(Fault) as caught:
            self.rpc("role_manager", "ir.model", "read", hidden.ids, ["model"])
        self.assertEqual(caught.exception.faultCode, RPC_ACCESS_ERROR)

        other_fields = self.env["ir.model.fields"].search([("model_id", "in", hidden.ids)])
        self.assertTrue(other_fields)
        self.assertFalse(self.rpc("role_manager", "ir.model.fields", "search", [("id", "in", other_fields.ids)]))

    def test_manager_cannot_use_a_field_hidden_from_them(self):
        """A field restricted to other groups (e.g. a contact's signup type, for Access
        Rights) cannot be watched, nor be the recipient or the date of a scenario."""
        Partner = self.env["res.partner"].with_user(self.manager)
        hidden = [
            name
            for name, field in Partner._fields.items()
            if field.groups and field.store and not field.is_accessible(Partner.env)
        ]
        self.assertTrue(hidden, "Some stored field of contacts is hidden from the manager.")
        field = self.env["ir.model.fields"]._get("res.partner", hidden[0])
        with self.assertRaises(Fault) as caught:
            self.rpc(
                "role_manager",
                "email.automation.scenario",
                "create",
                {
                    "name": "Hidden field",
                    "model_id": self.env["ir.model"]._get_id("res.partner"),
                    "trigger": "on_change",
                    "trigger_field_ids": [(6, 0, field.ids)],
                },
            )
        self.assertEqual(caught.exception.faultCode, RPC_USER_ERROR)
        self.assertIn("you may not read it", caught.exception.faultString)
        self.assertFalse(self.env["email.automation.scenario"].search([("name", "=", "Hidden field")]))

    def test_plain_user_reads_no_metadata(self):
        with self.assertRaises(Fault) as caught:
            self.rpc("role_user", "ir.model", "name_search", "Sales Order")
        self.assertEqual(caught.exception.faultCode, RPC_ACCESS_ERROR)

    def test_administrator_still_reads_every_model_and_field(self):
        """The administrator is an e-mail automation manager too: the manager's narrowing
        rules must not hide Settings' technical models from them."""
        admin = self.env.ref("base.user_admin")
        self.assertTrue(admin.has_group("crm_email_automation.group_manager"))
        models_ = (
            self.env["ir.model"]
            .with_user(admin)
            .search([("model", "in", ["ir.config_parameter", "res.config.settings"])])
        )
        self.assertEqual(len(models_), 2)
        self.assertTrue(self.env["ir.model.fields"].with_user(admin).search([("model_id", "in", models_.ids)]))
        self.assertTrue(
            self.env["ir.model.fields.selection"]
            .with_user(admin)
            .search([("field_id.model", "=", "res.config.settings")])
        )

    def test_manager_cannot_target_a_model_they_cannot_read(self):
        # A chatter model with a customer (so that only the target model is wrong), e.g. payments.
        unreadable = (
            self.env["ir.model"]
            .search([("is_mail_thread", "=", True), ("transient", "=", False)])
            .filtered(
                lambda m: m.model in self.env
                and not self.env[m.model]._abstract
                and getattr(self.env[m.model]._fields.get("partner_id"), "comodel_name", None) == "res.partner"
                and not self.env["ir.model.access"].with_user(self.manager).check(m.model, "read", False)
            )
        )
        self.assertTrue(unreadable, "Some chatter model is out of a salesman's reach.")
        with self.assertRaises(Fault) as caught:
            self.rpc(
                "role_manager",
                "email.automation.scenario",
                "create",
                {"name": "Out of reach", "model_id": unreadable[0].id, "trigger": "manual"},
            )
        self.assertEqual(caught.exception.faultCode, RPC_USER_ERROR)
        self.assertIn("Target Model", caught.exception.faultString)
        self.assertFalse(self.env["email.automation.scenario"].search([("name", "=", "Out of reach")]))
