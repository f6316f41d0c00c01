from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import warm_up_http_statics


@tagged("post_install", "-at_install")
class TestDocumentTour(HttpCase):
    """A salesperson sees an order's scenario from the order and takes the order out of it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.env["email.automation.scenario"].search([("state", "=", "running")]).state = "paused"
        cls.env["res.lang"]._activate_lang("en_US")
        sales_user = "base.group_user,sales_team.group_sale_salesman,crm_email_automation.group_user"
        cls.user = new_test_user(cls.env, "tour_ea_user", groups=sales_user, lang="en_US")
        cls.colleague = new_test_user(cls.env, "tour_ea_colleague", groups=sales_user, lang="en_US")
        cls.salesman = new_test_user(
            cls.env, "tour_salesman", groups="base.group_user,sales_team.group_sale_salesman", lang="en_US"
        )
        template = cls.env["mail.template"].create(
            {
                "name": "Tour order thank-you",
                "model_id": cls.env["ir.model"]._get_id("sale.order"),
                "subject": "Thank you for {{ object.name }}",
                "body_html": "<p>Thank you.</p>",
            }
        )
        step = {"action_type": "mail", "mail_template_id": template.id, "trigger_type": "begin"}
        cls.scenario = cls.env["email.automation.scenario"].create(
            {
                "name": "Tour order follow-up",
                "model_id": cls.env["ir.model"]._get_id("sale.order"),
                "trigger": "manual",
                "category": "transactional",
                "step_ids": [
                    Command.create({**step, "name": "Thank-you e-mail", "delay": 1, "delay_unit": "days"}),
                    Command.create({**step, "name": "Review request", "delay": 7, "delay_unit": "days"}),
                ],
            }
        )
        cls.scenario.action_start()
        partner = cls.env["res.partner"].create({"name": "Tour customer", "email": "tour.customer@example.com"})
        product = cls.env["product.product"].create({"name": "Tour product", "list_price": 10.0})
        cls.order, cls.colleague_order = cls.env["sale.order"].create(
            [
                {
                    "partner_id": partner.id,
                    "user_id": user.id,
                    "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 1})],
                }
                for user in (cls.user, cls.colleague)
            ]
        )
        (cls.order | cls.colleague_order).action_confirm()
        cls.participant = cls.scenario._enrol([cls.order.id])
        cls.colleague_participant = cls.scenario._enrol([cls.colleague_order.id])

    def test_remove_order_from_scenario_in_the_browser(self):
        self.assertEqual(self.order.state, "sale")
        self.start_tour(
            f"/odoo/action-sale.action_orders/{self.order.id}",
            "crm_email_automation_document_tour",
            login="tour_ea_user",
        )
        self.assertEqual(self.participant.state, "cancelled")
        self.assertEqual(self.participant.exit_reason, "manual")
        self.assertEqual(self.participant.exit_note, "The customer asked by phone to stop the reminders")
        self.assertEqual(self.participant.removed_by_id, self.user)
        self.assertEqual(len(self.participant.trace_ids), 2)
        self.assertEqual(set(self.participant.trace_ids.mapped("state")), {"cancelled"})
        self.assertEqual(self.colleague_participant.state, "running", "Only the order removed leaves the scenario.")

    def call_kw(self, model, method, args):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": {}},
        )

    def remove_over_rpc(self, participant):
        vals = {"participant_ids": [[6, 0, participant.ids]], "reason": "Not interested"}
        wizard_id = self.call_kw("email.automation.remove.wizard", "create", [[vals]])
        return self.call_kw("email.automation.remove.wizard", "action_apply", [wizard_id])

    def test_user_cannot_remove_a_colleagues_order_over_rpc(self):
        self.authenticate("tour_ea_user", "tour_ea_user")
        with self.assertRaises(JsonRpcException) as caught:
            self.remove_over_rpc(self.colleague_participant)
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.assertEqual(self.colleague_participant.state, "running")
        self.assertEqual(set(self.colleague_participant.trace_ids.mapped("state")), {"scheduled"})
        self.assertFalse(self.colleague_participant.exit_note)

    def test_plain_salesperson_cannot_remove_over_rpc(self):
        self.authenticate("tour_salesman", "tour_salesman")
        with self.assertRaises(JsonRpcException) as caught:
            self.remove_over_rpc(self.participant)
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        with self.assertRaises(JsonRpcException) as caught:
            self.call_kw("sale.order", "action_view_email_automation_participants", [self.order.ids])
        self.assertEqual(caught.exception.args[0], "odoo.exceptions.AccessError")
        self.assertEqual(self.participant.state, "running")
