"""Setting the event API up as an administrator and a manager would (issue 12, section 1):
the API key made for an API user from its user form, the "Outside event" trigger and the
step's event condition checked on save."""

import json
import time

from odoo import Command, http
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, tagged

from .event_api_common import EVENTS_URL, EventApiCommon


@tagged("post_install", "-at_install")
class TestEventApiSetup(EventApiCommon):
    def call_button(self, model, method, res_id):
        response = self.url_open(
            "/web/dataset/call_button",
            data=json_rpc({"model": model, "method": method, "args": [[res_id]], "kwargs": {}}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertNotIn("error", body, body)
        return body["result"]

    def test_administrator_makes_the_key_of_an_api_user_from_its_form(self):
        shop = self.env["res.users"].create(
            {
                "name": "Shop",
                "login": "shop_api",
                "groups_id": [Command.set(self.env.ref("crm_email_automation.group_api").ids)],
            }
        )
        self.assertTrue(shop.is_email_automation_api_user)
        self.assertFalse(shop._is_internal() or shop._is_portal())
        self.authenticate("admin", "admin")
        # Odoo asks for the password first (check_identity): the wizard, not the key.
        action = self.call_button("res.users", "action_email_automation_new_api_key", shop.id)
        self.assertEqual(action["res_model"], "res.users.identitycheck")
        # The password was just checked.
        self.session["identity-check-last"] = time.time()
        http.root.session_store.save(self.session)
        action = self.call_button("res.users", "action_email_automation_new_api_key", shop.id)
        self.assertEqual(action["res_model"], "res.users.apikeys.show")
        key = action["context"]["default_key"]
        self.assertEqual(
            self.env["res.users.apikeys"].search([("user_id", "=", shop.id)]).name, "E-mail automation event API"
        )
        self.shipped_scenario()
        status, _headers, body = self.post(EVENTS_URL, self.event(), key=key)
        self.assertEqual(status, 201, body)
        self.assertEqual(self.env["email.automation.outside.event"].browse(body["id"]).api_user_id, shop)

    def test_no_api_key_for_a_user_outside_the_api_group(self):
        self.authenticate("admin", "admin")
        self.session["identity-check-last"] = time.time()
        http.root.session_store.save(self.session)
        response = self.url_open(
            "/web/dataset/call_button",
            data=json_rpc(
                {
                    "model": "res.users",
                    "method": "action_email_automation_new_api_key",
                    "args": [[self.user_manager.id]],
                    "kwargs": {},
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        self.assertIn("is not in the group E-mail Automation / API", response.json()["error"]["data"]["message"])
        self.assertFalse(self.env["res.users.apikeys"].search([("user_id", "=", self.user_manager.id)]))

    def test_manager_sets_up_an_outside_event_scenario(self):
        Scenario = self.env["email.automation.scenario"].with_user(self.user_manager)
        form = Form(Scenario)
        form.name = "Order shipped"
        form.model_id = self.env["ir.model"]._get("res.partner")
        form.trigger = "on_outside_event"
        form.outside_event_name = "order_shipped"
        scenario = form.save()
        self.assertEqual(scenario.outside_event_name, "order_shipped")
        with self.assertRaises(ValidationError):
            scenario.outside_event_name = "order shipped!"
        step = (
            self.env["email.automation.step"]
            .with_user(self.user_manager)
            .create(
                {
                    "scenario_id": scenario.id,
                    "name": "Shipped",
                    "action_type": "mail",
                    "mail_template_id": self.template_shipped.id,
                    "payload_condition": "payload.get('plan') == 'pro'",
                }
            )
        )
        self.assertEqual(step.scenario_trigger, "on_outside_event")
        with self.assertRaises(ValidationError):
            step.payload_condition = "payload.get('plan' =="

    def test_api_group_implies_nothing_is_implied_by_nothing_and_shows_no_menu(self):
        group = self.env.ref("crm_email_automation.group_api")
        self.assertFalse(group.implied_ids)
        self.assertFalse(self.env["res.groups"].search([("implied_ids", "in", group.ids)]))
        self.assertFalse(self.user_manager.has_group("crm_email_automation.group_api"))
        # Not even Odoo's menus: the API user is no internal user.
        with self.assertRaises(AccessError):
            self.env["ir.ui.menu"].with_user(self.api_user).load_menus(debug=False)
        root = self.env.ref("crm_email_automation.crm_email_automation_menu_root")
        self.assertIn(root.id, self.env["ir.ui.menu"].with_user(self.user_manager)._visible_menu_ids())


def json_rpc(params):
    return json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})
