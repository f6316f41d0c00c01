from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException

from .common import EmailAutomationCommon, body_text


class RecordRulesCommon(EmailAutomationCommon):
    """The attacker: a Sales user who sees only their own documents, and is an e-mail
    automation manager. Another salesperson's quotations are hidden from them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = cls.user_manager
        cls.test_address = "attacker-inbox@example.com"
        cls.secret_customer = cls.env["res.partner"].create(
            {"name": "Secret Customer", "email": "secret@example.com", "lang": "en_US"}
        )
        # Everything the e-mails may show about a record: its name, customer and amount.
        cls.template_leaky = cls.env["mail.template"].create(
            {
                "name": "Leaky order template",
                "model_id": cls.env["ir.model"]._get_id("sale.order"),
                "subject": "Order {{ object.name }}",
                "body_html": "<p>Order <t t-out='object.name'/> of <t t-out='object.partner_id.name'/>"
                " for <t t-out='object.amount_total'/> (<t t-out='object.client_order_ref'/>)</p>",
                "email_from": "{{ object.env.company.email_formatted }}",
            }
        )

    def hidden_order(self, **values):
        """A quotation of another salesperson: the manager's record rules hide it."""
        order = self.create_order(
            self.secret_customer, user_id=self.user_salesman.id, client_order_ref="TOP-SECRET-REF", **values
        )
        self.assertFalse(order.with_user(self.manager).has_access("read"), "the rule hides it from the manager")
        return order

    def own_order(self, partner=None, **values):
        order = self.create_order(partner or self.partner_en, user_id=self.manager.id, **values)
        self.assertTrue(order.with_user(self.manager).has_access("read"))
        return order

    def manager_scenario(self, **values):
        """A scenario the manager builds and starts themselves, over the ORM as over RPC."""
        step = {
            "name": "Mail",
            "trigger_type": "begin",
            "action_type": "mail",
            "mail_template_id": self.template_leaky.id,
            "delay": 0,
        }
        step.update(values.pop("step", {}))
        vals = {
            "name": "Harmless scenario",
            "model_id": self.env["ir.model"]._get_id("sale.order"),
            "trigger": "manual",
            "category": "transactional",
            "is_test_mode": True,
            "test_email": self.test_address,
            "step_ids": [Command.create(step)],
            **values,
        }
        scenario = self.env["email.automation.scenario"].with_user(self.manager).create(vals)
        self.assertEqual(scenario.user_id, self.manager, "the creator is responsible by default")
        scenario.action_start()
        return scenario.with_env(self.env)

    def assertNothingAbout(self, *records):
        """No e-mail that reached the SMTP server says anything about `records`."""
        for message in self.smtp.messages:
            text = f"{message['Subject']} {message['To']} {body_text(message)}"
            for record in records:
                self.assertNotIn(record.name, text, "the hidden record's name left the database")
            self.assertNotIn("TOP-SECRET-REF", text)
            self.assertNotIn("Secret Customer", text)
            self.assertNotIn("secret@example.com", text)


@tagged("post_install", "-at_install")
class TestRecordRules(RecordRulesCommon):
    def test_trigger_on_hidden_records_enrols_and_mails_nothing(self):
        scenario = self.manager_scenario(trigger="on_create")
        hidden = self.hidden_order()
        own = self.own_order()
        self.run_queue()
        self.assertEqual(scenario.participant_ids.mapped("res_id"), [own.id], "only the manager's own quotation")
        (message,) = self.assertSentTo(self.test_address)
        self.assertIn(own.name, message["Subject"])
        self.assertNothingAbout(hidden)

    def test_time_trigger_on_hidden_records_enrols_and_mails_nothing(self):
        start = fields.Datetime.now()
        with freeze_time(start):
            scenario = self.manager_scenario(
                trigger="on_inactivity",
                idle_delay=1,
                idle_delay_unit="hours",
                domain=f"[('partner_id', 'in', {[self.secret_customer.id, self.partner_en.id]})]",
            )
        with freeze_time(start + timedelta(minutes=5)):
            hidden = self.hidden_order()
            own = self.own_order()
            self.env.flush_all()
        with freeze_time(start + timedelta(hours=2)):
            self.run_queue()
        self.assertEqual(scenario.participant_ids.mapped("res_id"), [own.id])
        self.assertSentTo(self.test_address, 1)
        self.assertNothingAbout(hidden)

    def test_manual_enrolment_of_hidden_ids_is_refused(self):
        scenario = self.manager_scenario()
        hidden = self.hidden_order()
        wizard = (
            self.env["email.automation.enrol.wizard"]
            .with_user(self.manager)
            .create({"res_model": "sale.order", "res_ids": [hidden.id], "scenario_id": scenario.id})
        )
        with self.assertRaises(AccessError):
            wizard.action_enrol()
        self.run_queue()
        self.assertFalse(scenario.participant_ids)
        self.assertFalse(self.smtp.messages)

    def test_server_action_cannot_enrol_what_the_responsible_cannot_read(self):
        scenario = self.manager_scenario()
        hidden = self.hidden_order()
        own = self.own_order()
        action = self.env["ir.actions.server"].create(
            {
                "name": "Enrol",
                "model_id": self.env["ir.model"]._get_id("sale.order"),
                "state": "email_automation_enrol",
                "email_automation_scenario_id": scenario.id,
            }
        )
        # Run by an administrator (a base automation rule, say): the scenario still reads
        # with its responsible's rights.
        action.with_context(active_model="sale.order", active_ids=(hidden | own).ids).run()
        self.run_queue()
        self.assertEqual(scenario.participant_ids.mapped("res_id"), [own.id])
        self.assertNothingAbout(hidden)

    def test_record_hidden_after_enrolment_is_skipped_with_the_reason(self):
        scenario = self.manager_scenario(step={"delay": 1, "delay_unit": "hours"})
        order = self.own_order(self.secret_customer, client_order_ref="TOP-SECRET-REF")
        scenario._enrol(order.ids)
        # Handed over to another salesperson before the e-mail is due.
        order.user_id = self.user_salesman
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.state, "skipped")
        self.assertEqual(trace.reason, "record_hidden")
        self.assertEqual(scenario.participant_ids.state, "exited")
        self.assertFalse(self.smtp.messages)
        self.assertNothingAbout(order)

    def test_responsible_who_lost_the_rights_sends_nothing(self):
        scenario = self.manager_scenario(trigger="on_create", step={"delay": 1, "delay_unit": "hours"})
        order = self.own_order()
        self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, order.id)
        # The manager leaves the sales team: they may no longer read quotations.
        self.manager.groups_id = [Command.unlink(self.env.ref("sales_team.group_sale_salesman").id)]
        self.assertFalse(self.env["sale.order"].with_user(self.manager).has_access("read"))
        later = self.create_order(user_id=self.manager.id)
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.run_queue()
        trace = scenario.participant_ids.filtered(lambda p: p.res_id == order.id).trace_ids
        self.assertEqual((trace.state, trace.reason), ("skipped", "record_hidden"))
        self.assertIn("may not read", trace.reason_detail)
        self.assertNotIn(later.id, scenario.participant_ids.mapped("res_id"))
        self.assertFalse(self.smtp.messages)

    def test_template_cannot_reach_hidden_records_through_a_visible_one(self):
        # A contact scenario (contacts are visible to every employee) whose template,
        # written by an administrator, lists the contact's quotations.
        template = self.env["mail.template"].create(
            {
                "name": "Your quotations",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "subject": "Your quotations",
                "body_html": "<p>Quotations: <t t-out=\"', '.join(object.sale_order_ids.mapped('name'))\"/></p>",
            }
        )
        scenario = self.manager_scenario(
            model_id=self.env["ir.model"]._get_id("res.partner"), step={"mail_template_id": template.id}
        )
        own = self.own_order(self.secret_customer)
        hidden = self.hidden_order()
        scenario._enrol(self.secret_customer.ids)
        self.run_queue()
        (message,) = self.assertSentTo(self.test_address)
        self.assertIn(own.name, body_text(message))
        self.assertNotIn(hidden.name, body_text(message))

    def test_goal_and_condition_are_evaluated_as_the_responsible(self):
        # `uid` in a filter is the responsible's, not the cron's.
        scenario = self.manager_scenario(step={"condition_domain": "[('user_id', '=', uid)]"})
        own = self.own_order()
        scenario._enrol(own.ids)
        self.run_queue()
        self.assertEqual(scenario.participant_ids.trace_ids.state, "sent")

    def test_leads_of_other_salespeople_stay_hidden(self):
        template = self.env["mail.template"].create(
            {
                "name": "Lead follow-up",
                "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "subject": "Lead {{ object.name }}",
                "body_html": "<p><t t-out='object.description'/></p>",
            }
        )
        scenario = self.manager_scenario(
            model_id=self.env["ir.model"]._get_id("crm.lead"),
            trigger="on_create",
            step={"mail_template_id": template.id},
        )
        hidden = self.env["crm.lead"].create(
            {
                "name": "Secret deal",
                "partner_id": self.secret_customer.id,
                "user_id": self.user_salesman.id,
                "description": "TOP-SECRET-REF",
            }
        )
        self.assertFalse(hidden.with_user(self.manager).has_access("read"))
        self.run_queue()
        self.assertFalse(scenario.participant_ids)
        self.assertNothingAbout(hidden)

    def test_participants_do_not_name_records_hidden_from_the_reader(self):
        # A scenario an administrator runs reaches every quotation; the manager who looks
        # at its participants and traces still sees only what their rules show.
        scenario = self.create_scenario("sale.order", steps=[{"name": "Later", "trigger_type": "begin", "delay": 2}])
        hidden = self.hidden_order()
        own = self.own_order()
        scenario._enrol((hidden | own).ids)
        participants = scenario.participant_ids.with_user(self.manager)
        names = dict(zip(participants.mapped("res_id"), participants.mapped("record_name"), strict=True))
        self.assertEqual(names[own.id], own.display_name)
        self.assertNotIn(hidden.name, names[hidden.id])
        traces = scenario.participant_ids.trace_ids.with_user(self.manager)
        self.assertNotIn(hidden.name, " ".join(traces.mapped("record_name")))
        self.assertIn(own.name, " ".join(traces.mapped("record_name")))


@tagged("post_install", "-at_install")
class TestResponsible(RecordRulesCommon):
    """The responsible decides whose rights a scenario has: nobody borrows someone else's."""

    def values(self, **values):
        return {
            "name": "Scenario",
            "model_id": self.env["ir.model"]._get_id("sale.order"),
            "trigger": "manual",
            **values,
        }

    def test_manager_cannot_make_someone_else_responsible(self):
        Scenario = self.env["email.automation.scenario"].with_user(self.manager)
        admin = self.env.ref("base.user_admin")
        with self.assertRaises(AccessError):
            Scenario.create(self.values(user_id=admin.id))
        with self.assertRaises(AccessError):
            Scenario.with_context(default_user_id=admin.id).create(self.values())
        scenario = Scenario.create(self.values())
        with self.assertRaises(AccessError):
            scenario.write({"user_id": admin.id})
        self.assertEqual(scenario.user_id, self.manager)
        copy = scenario.copy()
        self.assertEqual(copy.user_id, self.manager)

    def test_manager_cannot_change_a_scenario_run_with_someone_elses_rights(self):
        admin = self.env.ref("base.user_admin")
        scenario = self.env["email.automation.scenario"].create(
            self.values(
                user_id=admin.id,
                step_ids=[Command.create({"name": "Mail", "mail_template_id": self.template_leaky.id})],
            )
        )
        as_manager = scenario.with_user(self.manager)
        for vals in (
            {"domain": "[]"},
            {"is_test_mode": True, "test_email": self.test_address},
            {"step_ids": [Command.create({"name": "More", "mail_template_id": self.template_leaky.id})]},
        ):
            with self.assertRaises(AccessError):
                as_manager.write(vals)
        with self.assertRaises(AccessError):
            as_manager.step_ids.write({"condition_domain": "[]"})
        with self.assertRaises(AccessError):
            self.env["email.automation.step"].with_user(self.manager).create(
                {"name": "More", "scenario_id": scenario.id, "mail_template_id": self.template_leaky.id}
            )
        with self.assertRaises(AccessError):
            as_manager.step_ids.unlink()
        self.assertFalse(scenario.is_test_mode)
        # Operating it is fine; so is taking it over, which puts the manager's rights on it.
        as_manager.write({"name": "Renamed"})
        as_manager.write({"user_id": self.manager.id, "is_test_mode": True, "test_email": self.test_address})
        self.assertEqual(scenario.user_id, self.manager)
        as_manager.write({"domain": "[('state', '=', 'draft')]"})

    def test_administrator_may_choose_the_responsible(self):
        admin = self.env.ref("base.user_admin")
        scenario = self.env["email.automation.scenario"].with_user(admin).create(self.values(user_id=self.manager.id))
        self.assertEqual(scenario.user_id, self.manager)

    def test_responsible_must_be_able_to_read_the_target_model(self):
        employee = self.env["res.users"].create(
            {
                "name": "Employee",
                "login": "ea_employee",
                "groups_id": [Command.set(self.env.ref("base.group_user").ids)],
            }
        )
        with self.assertRaisesRegex(ValidationError, "Responsible"):
            self.env["email.automation.scenario"].create(self.values(user_id=employee.id))


@tagged("post_install", "-at_install")
class TestCompanies(RecordRulesCommon):
    """A scenario of company A never touches company B's records, even when its
    responsible works in both."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.company
        cls.company_b = cls.env["res.company"].create({"name": "Company B", "email": "b@example.com"})
        cls.manager.write({"company_ids": [Command.link(cls.company_b.id)]})
        cls.env.ref("base.user_root").write({"company_ids": [Command.link(cls.company_b.id)]})

    def order_of_b(self, partner=None):
        order = (
            self.env["sale.order"]
            .with_company(self.company_b)
            .create(
                {
                    "partner_id": (partner or self.secret_customer).id,
                    "company_id": self.company_b.id,
                    "user_id": self.manager.id,
                    "client_order_ref": "TOP-SECRET-REF",
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 1})],
                }
            )
        )
        self.assertTrue(order.with_user(self.manager).has_access("read"), "the manager works in both companies")
        return order

    def test_record_of_another_company_matching_the_segment_is_not_enrolled(self):
        scenario = self.manager_scenario(trigger="on_create", company_id=self.company_a.id)
        order_b = self.order_of_b()
        self.run_queue()
        self.assertFalse(scenario.participant_ids)
        self.assertFalse(self.smtp.messages)
        self.assertNothingAbout(order_b)

    def test_record_moved_to_another_company_is_skipped(self):
        scenario = self.manager_scenario(
            model_id=self.env["ir.model"]._get_id("res.partner"),
            company_id=self.company_a.id,
            step={"mail_template_id": self.template_partner.id, "delay": 1, "delay_unit": "hours"},
        )
        scenario._enrol(self.secret_customer.ids)
        self.assertTrue(scenario.participant_ids)
        self.secret_customer.company_id = self.company_b
        with freeze_time(fields.Datetime.now() + timedelta(hours=2)):
            self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual((trace.state, trace.reason), ("skipped", "record_hidden"))
        self.assertFalse(self.smtp.messages)

    def test_rendering_sees_only_the_scenario_company(self):
        template = self.env["mail.template"].create(
            {
                "name": "Your quotations",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "subject": "Your quotations at {{ object.env.company.name }}",
                "body_html": "<p>Quotations: <t t-out=\"', '.join(object.sale_order_ids.mapped('name'))\"/></p>",
            }
        )
        scenario = self.manager_scenario(
            model_id=self.env["ir.model"]._get_id("res.partner"),
            company_id=self.company_a.id,
            step={"mail_template_id": template.id},
        )
        order_a = self.own_order(self.secret_customer)
        order_b = self.order_of_b()
        scenario._enrol(self.secret_customer.ids)
        # Run by a user whose session has both companies selected.
        self.env["email.automation.queue"].with_context(
            allowed_company_ids=[self.company_b.id, self.company_a.id]
        )._process_queue()
        (message,) = self.assertSentTo(self.test_address)
        self.assertEqual(message["Subject"], f"[TEST] Your quotations at {self.company_a.name}")
        self.assertIn(order_a.name, body_text(message))
        self.assertNotIn(order_b.name, body_text(message))

    def test_pending_enrolments_carry_the_company_and_its_rule(self):
        scenario_b = self.env["email.automation.scenario"].create(
            {
                "name": "B scenario",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "on_create",
                "company_id": self.company_b.id,
                "step_ids": [Command.create({"name": "Mail", "mail_template_id": self.template_partner.id})],
            }
        )
        scenario_b.action_start()
        self.env["res.partner"].create({"name": "New", "email": "new@example.com"})
        pending = self.env["email.automation.enrolment"].search([("scenario_id", "=", scenario_b.id)])
        self.assertEqual(pending.company_id, self.company_b)
        self.manager.company_ids = self.company_a
        self.assertFalse(
            self.env["email.automation.enrolment"].with_user(self.manager).search([("scenario_id", "=", scenario_b.id)])
        )


@tagged("post_install", "-at_install")
class TestResponsibleOverRpc(RecordRulesCommon, HttpCase):
    """The same attacks as the web client or a script would send them: JSON-RPC calls
    of the logged-in manager."""

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))
        self.authenticate("ea_manager", "ea_manager")

    def call(self, model, method, *args, **kwargs):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )

    def test_borrowing_the_administrators_rights_is_refused(self):
        admin = self.env.ref("base.user_admin")
        values = {
            "name": "Borrowed rights",
            "model_id": self.env["ir.model"]._get_id("sale.order"),
            "trigger": "manual",
            "is_test_mode": True,
            "test_email": self.test_address,
            "user_id": admin.id,
        }
        with self.assertRaises(JsonRpcException) as caught:
            self.call("email.automation.scenario", "create", [values])
        self.assertIn("AccessError", str(caught.exception))
        self.assertFalse(self.env["email.automation.scenario"].search([("name", "=", "Borrowed rights")]))

    def test_enrolling_hidden_ids_through_the_wizard_is_refused(self):
        scenario = self.manager_scenario()
        hidden = self.hidden_order()
        (wizard_id,) = self.call(
            "email.automation.enrol.wizard",
            "create",
            [{"res_model": "sale.order", "res_ids": [hidden.id], "scenario_id": scenario.id}],
        )
        with self.assertRaises(JsonRpcException) as caught:
            self.call("email.automation.enrol.wizard", "action_enrol", [wizard_id])
        self.assertIn("AccessError", str(caught.exception))
        self.run_queue()
        self.assertFalse(scenario.participant_ids)
        self.assertFalse(self.smtp.messages)
