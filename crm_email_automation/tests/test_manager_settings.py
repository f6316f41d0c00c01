from xmlrpc.client import Fault

from odoo.tests import HttpCase, new_test_user, tagged

RPC_USER_ERROR = 2
RPC_ACCESS_ERROR = 4
PREFIX = "crm_email_automation."


@tagged("post_install", "-at_install")
class TestManagerSettings(HttpCase):
    """The E-mail Automation manager (not a Settings administrator) sets the sending policy
    in the module's own form; its menu shows nothing the manager cannot open."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_US")
        groups = "base.group_user,sales_team.group_sale_salesman"
        cls.manager = new_test_user(
            cls.env, "set_manager", password="set_manager_pw", groups=f"{groups},crm_email_automation.group_manager"
        )
        cls.user = new_test_user(
            cls.env, "set_user", password="set_user_pw", groups=f"{groups},crm_email_automation.group_user"
        )
        cls.env["ir.config_parameter"].set_param(PREFIX + "consent_policy", "opt_in")
        cls.env["ir.config_parameter"].set_param(PREFIX + "frequency_cap_count", "3")

    def rpc(self, login, model, method, *args, **kwargs):
        password = f"{login}_pw"
        uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, password, {})
        return self.xmlrpc_object.execute_kw(self.env.cr.dbname, uid, password, model, method, list(args), kwargs)

    def param(self, name):
        return self.env["ir.config_parameter"].get_param(PREFIX + name)

    def test_manager_sets_the_sending_policy(self):
        self.assertFalse(self.manager.has_group("base.group_system"))
        defaults = self.rpc("set_manager", "email.automation.settings", "default_get", ["consent_policy", "send_day_6"])
        self.assertEqual(defaults["consent_policy"], "opt_in")

        settings_id = self.rpc(
            "set_manager",
            "email.automation.settings",
            "create",
            {
                "consent_policy": "opt_out",
                "frequency_cap_count": 0,
                "frequency_cap_days": 7,
                "quiet_hours": True,
                "send_window_start": 9.0,
                "send_window_end": 17.5,
                **{f"send_day_{day}": day < 5 for day in range(7)},
                "rate_limit_minute": 30,
                "retention_months": 12,
            },
        )
        self.assertTrue(self.rpc("set_manager", "email.automation.settings", "action_save", [settings_id]))

        self.assertEqual(self.param("consent_policy"), "opt_out")
        self.assertEqual(self.param("frequency_cap_count"), "0", "0 means no cap, and is kept as such.")
        self.assertEqual(self.param("send_days"), "01234")
        self.assertEqual(self.param("send_window_end"), "17.5")
        self.assertEqual(self.param("rate_limit_minute"), "30")
        policy = self.env["email.automation.policy"]._settings()
        self.assertEqual((policy["consent_policy"], policy["cap_count"]), ("opt_out", 0))
        self.assertTrue(policy["quiet_hours"])
        self.assertEqual(policy["send_days"], {0, 1, 2, 3, 4})
        self.assertEqual(policy["rate_minute"], 30)

    def test_bad_policy_is_refused_and_changes_nothing(self):
        for values, message in [
            ({"quiet_hours": True, "send_window_start": 20.0, "send_window_end": 8.0}, "send window"),
            ({"frequency_cap_count": -1}, "cannot be negative"),
            ({"quiet_hours": True, **{f"send_day_{day}": False for day in range(7)}}, "at least one day"),
            ({"doi_validity_hours": 0}, "must be positive"),
        ]:
            with self.subTest(values=values), self.assertRaises(Fault) as caught:
                self.rpc("set_manager", "email.automation.settings", "create", {"consent_policy": "opt_out", **values})
            self.assertEqual(caught.exception.faultCode, RPC_USER_ERROR)
            self.assertIn(message, caught.exception.faultString)
        self.assertEqual(self.param("consent_policy"), "opt_in")
        self.assertEqual(self.param("frequency_cap_count"), "3")

    def test_plain_user_cannot_set_the_sending_policy(self):
        with self.assertRaises(Fault) as caught:
            self.rpc("set_user", "email.automation.settings", "create", {"consent_policy": "opt_out"})
        self.assertEqual(caught.exception.faultCode, RPC_ACCESS_ERROR)
        self.assertEqual(self.param("consent_policy"), "opt_in")

    def test_every_menu_of_the_app_opens_for_the_manager(self):
        """The app's menu shows the manager the sending policy, no Settings entry, and no
        entry whose model the manager cannot read."""
        root = self.env.ref("crm_email_automation.crm_email_automation_menu_root")
        Menu = self.env["ir.ui.menu"].with_user(self.manager)
        visible = Menu.browse(Menu._visible_menu_ids()) & Menu.search([("id", "child_of", root.id)])
        xmlids = set(visible.get_external_id().values())
        self.assertIn("crm_email_automation.email_automation_sending_policy_menu", xmlids)
        self.assertNotIn("crm_email_automation.email_automation_settings_menu", xmlids)
        for menu in visible.filtered(lambda m: m.action and m.action._name == "ir.actions.act_window"):
            model = self.env[menu.action.sudo().res_model].with_user(self.manager)
            operation = "create" if model._transient else "read"
            self.assertTrue(model.has_access(operation), f"{menu.complete_name}: the manager cannot open {model._name}")

    def test_zero_cap_and_retention_survive_the_general_settings(self):
        """0 means "no cap" and "kept forever": the administrators' Settings form must store
        it, not drop the parameter (which brought back 3 e-mails and 24 months)."""
        settings = self.env["res.config.settings"].create(
            {"email_automation_frequency_cap_count": 0, "email_automation_retention_months": 0}
        )
        settings.execute()
        self.assertEqual(self.param("frequency_cap_count"), "0")
        self.assertEqual(self.param("retention_months"), "0")
        self.assertEqual(self.env["email.automation.policy"]._settings()["cap_count"], 0)
        values = self.env["res.config.settings"].default_get(
            ["email_automation_frequency_cap_count", "email_automation_retention_months"]
        )
        self.assertEqual(values["email_automation_frequency_cap_count"], 0)
        self.assertEqual(values["email_automation_retention_months"], 0)
        policy = self.rpc("set_manager", "email.automation.settings", "default_get", ["frequency_cap_count"])
        self.assertEqual(policy["frequency_cap_count"], 0)
