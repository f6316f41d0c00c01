from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestTriggers(EmailAutomationCommon):
    def field(self, model, name):
        return self.env["ir.model.fields"]._get(model, name)

    def test_record_created_enrols_matching_records_from_the_queue(self):
        scenario = self.create_scenario(trigger="on_create", domain="[('email', 'ilike', '@example.org')]")
        matching = self.env["res.partner"].create({"name": "Anna Nowak", "email": "anna@example.org", "lang": "pl_PL"})
        other = self.env["res.partner"].create({"name": "Outside", "email": "out@elsewhere.com"})
        # The user's create only queued the records; nothing enrolled or sent yet.
        queued = self.env["email.automation.enrolment"].search([("scenario_id", "=", scenario.id)])
        self.assertEqual(set(queued.mapped("res_id")), {matching.id, other.id})
        self.assertFalse(scenario.participant_ids)

        self.run_queue()

        self.assertEqual(scenario.participant_ids.res_id, matching.id)
        (message,) = self.assertSentTo("anna@example.org")
        self.assertEqual(message["Subject"], "Witamy, Anna Nowak")
        self.assertFalse(self.smtp.messages_to("out@elsewhere.com"))
        self.assertFalse(self.env["email.automation.enrolment"].search([("scenario_id", "=", scenario.id)]))

    def test_sale_order_state_set_to_confirmed(self):
        scenario = self.create_scenario(
            "sale.order",
            trigger="on_value",
            trigger_field_id=self.field("sale.order", "state").id,
            trigger_selection_ids=[self.env.ref("sale.selection__sale_order__state__sale").id],
        )
        confirmed = self.create_order(self.partner_pl)
        quotation = self.create_order(self.partner_en)
        confirmed.action_confirm()
        quotation.action_quotation_sent()
        self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, confirmed.id)
        (message,) = self.assertSentTo("jan@example.pl")
        self.assertEqual(message["Subject"], f"W sprawie oferty {confirmed.name}")
        self.assertFalse(self.smtp.messages_to("john@example.com"))

    def test_lead_stage_set_to_a_stage_matching_the_filter(self):
        qualified = self.env.ref("crm.stage_lead2")
        scenario = self.create_scenario(
            "crm.lead",
            trigger="on_value",
            trigger_field_id=self.field("crm.lead", "stage_id").id,
            trigger_value_domain=f"[('id', '=', {qualified.id})]",
        )
        lead = self.env["crm.lead"].create(
            {"name": "Big deal", "partner_id": self.partner_en.id, "type": "opportunity"}
        )
        other = self.env["crm.lead"].create(
            {"name": "Small deal", "partner_id": self.partner_pl.id, "type": "opportunity"}
        )
        lead.stage_id = qualified
        other.stage_id = self.env.ref("crm.stage_lead3")
        self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, lead.id)
        (message,) = self.assertSentTo("john@example.com")
        self.assertEqual(message["Subject"], "Following up on Big deal")
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))

    def test_any_watched_field_changed(self):
        scenario = self.create_scenario(
            trigger="on_change", trigger_field_ids=[self.field("res.partner", "function").id]
        )
        self.partner_en.phone = "+44 20 0000 0000"
        self.run_queue()
        self.assertFalse(scenario.participant_ids, "a field nobody watches changed")
        self.partner_en.function = "CFO"
        self.partner_pl.function = self.partner_pl.function  # same value: no change
        self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, self.partner_en.id)
        self.assertSentTo("john@example.com", 1)

    def test_time_relative_to_a_date_field(self):
        start = fields.Datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
        with freeze_time(start):
            scenario = self.create_scenario(
                "crm.lead",
                trigger="on_date",
                date_field_id=self.field("crm.lead", "date_deadline").id,
                date_offset=1,
                date_offset_unit="days",
                date_offset_direction="before",
            )
            lead = self.env["crm.lead"].create(
                {
                    "name": "Deadline soon",
                    "partner_id": self.partner_en.id,
                    "date_deadline": start.date() + timedelta(days=3),
                }
            )
            self.run_queue()
        self.assertFalse(scenario.participant_ids)
        with freeze_time(start + timedelta(days=1)):
            self.run_queue()
        self.assertFalse(scenario.participant_ids, "two days before the deadline is too early")
        with freeze_time(start + timedelta(days=2)):
            self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, lead.id)
        self.assertSentTo("john@example.com", 1)
        with freeze_time(start + timedelta(days=3)):
            self.run_queue()
        self.assertSentTo("john@example.com", 1)

    def test_record_idle_for_48_hours(self):
        start = fields.Datetime.now()
        scenario = self.create_scenario(
            "sale.order",
            trigger="on_inactivity",
            idle_delay=48,
            idle_delay_unit="hours",
            start=False,
        )
        customer_c = self.env["res.partner"].create({"name": "C", "email": "c@example.com"})
        # Only this test's orders: the demo quotations are idle too.
        customers = (self.partner_pl | self.partner_en | customer_c).ids
        scenario.domain = f"[('state', 'in', ['draft', 'sent']), ('partner_id', 'in', {customers})]"
        idle = self.create_order(self.partner_pl)
        busy = self.create_order(self.partner_en)
        confirmed = self.create_order(customer_c)
        confirmed.action_confirm()
        with freeze_time(start):
            scenario.action_start()
        self.set_write_date(idle | confirmed, start - timedelta(hours=10))
        self.set_write_date(busy, start + timedelta(hours=30))
        with freeze_time(start + timedelta(hours=37)):
            self.run_queue()
        self.assertFalse(scenario.participant_ids, "idle for 47 hours only")
        with freeze_time(start + timedelta(hours=39)):
            self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, idle.id)
        with freeze_time(start + timedelta(hours=79)):
            self.run_queue()
        self.assertEqual(set(scenario.participant_ids.mapped("res_id")), {idle.id, busy.id})
        self.assertSentTo("jan@example.pl", 1)
        self.assertSentTo("john@example.com", 1)
        self.assertFalse(self.smtp.messages_to("c@example.com"), "a confirmed order is outside the segment")

    def set_write_date(self, records, when):
        self.env.flush_all()
        self.env.cr.execute(
            f"UPDATE {records._table} SET write_date = %s WHERE id IN %s",  # noqa: S608 - table name from the ORM
            [when, tuple(records.ids)],
        )
        records.invalidate_recordset(["write_date"])

    def test_server_action_enrols_its_records(self):
        scenario = self.create_scenario()
        action = self.env["ir.actions.server"].create(
            {
                "name": "Enrol in welcome",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "state": "email_automation_enrol",
                "email_automation_scenario_id": scenario.id,
            }
        )
        action.with_context(active_model="res.partner", active_ids=self.partner_en.ids).run()
        self.assertEqual(scenario.participant_ids.res_id, self.partner_en.id)
        self.run_queue()
        self.assertSentTo("john@example.com", 1)

    def test_enrol_wizard_from_a_list_enrols_the_selection(self):
        scenario = self.create_scenario()
        partners = self.partner_en | self.partner_pl
        wizard = (
            self.env["email.automation.enrol.wizard"]
            .with_user(self.user_user)
            .with_context(active_model="res.partner", active_ids=partners.ids)
            .create({"scenario_id": scenario.id})
        )
        self.assertEqual(wizard.record_count, 2)
        result = wizard.action_enrol()
        self.assertIn("records enrolled: 2;", result["params"]["message"])
        self.assertEqual(set(scenario.participant_ids.mapped("res_id")), set(partners.ids))
        again = wizard.action_enrol()
        self.assertIn("records enrolled: 0;", again["params"]["message"])
