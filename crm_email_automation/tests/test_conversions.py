from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .conversion_common import ConversionCommon


@tagged("post_install", "-at_install")
class TestConversions(ConversionCommon):
    """Goal reached: when, which e-mail it is attributed to, and the revenue."""

    def test_goal_reached_after_the_last_step_converts_when_the_record_changes(self):
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        order = self.create_order()
        start = self.now()
        with freeze_time(start):
            scenario._enrol(order.ids)
            self.run_queue()
        participant = scenario.participant_ids
        self.assertEqual(participant.state, "completed", "nothing left to do after the only e-mail")
        confirmed_at = start + timedelta(days=2)
        with freeze_time(confirmed_at):
            order.action_confirm()
        checks = self.env["email.automation.goal.check"].search([("scenario_id", "=", scenario.id)])
        self.assertEqual(checks.mapped("res_id"), order.ids, "the confirmation queues a goal check")
        with freeze_time(confirmed_at + timedelta(minutes=3)):
            self.run_queue()
        self.assertEqual(participant.state, "converted")
        self.assertEqual(participant.exit_reason, "goal_reached")
        self.assertEqual(participant.converted_at, confirmed_at, "the time of the change, not of the queue run")
        self.assertFalse(self.env["email.automation.goal.check"].search([("scenario_id", "=", scenario.id)]))

    def test_goal_reached_cancels_a_due_step_before_it_is_sent(self):
        scenario = self.quotation_scenario()
        order = self.create_order()
        start = self.now()
        with freeze_time(start):
            scenario._enrol(order.ids)
            self.run_queue()
        self.assertSentTo("john@example.com", 1)
        with freeze_time(start + timedelta(days=1, hours=1)):
            order.action_confirm()
            self.run_queue()
        participant = scenario.participant_ids
        follow_up = self.trace_of(participant, "Follow-up")
        self.assertEqual((follow_up.state, follow_up.reason), ("cancelled", "goal_reached"))
        self.assertSentTo("john@example.com", 1)
        self.assertEqual(participant.state, "converted")

    def test_completed_participant_converts_only_within_the_conversion_window(self):
        self.env["ir.config_parameter"].set_param("crm_email_automation.conversion_days", 10)
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        late, in_time = self.create_order(), self.create_order(self.partner_pl)
        start = self.now()
        with freeze_time(start):
            scenario._enrol((late | in_time).ids)
            self.run_queue()
        with freeze_time(start + timedelta(days=9)):
            in_time.action_confirm()
            self.run_queue()
        with freeze_time(start + timedelta(days=11)):
            late.action_confirm()
            self.run_queue()
        states = {p.res_id: p.state for p in scenario.participant_ids}
        self.assertEqual(states, {in_time.id: "converted", late.id: "completed"})

    def test_goal_on_a_related_record_is_found_by_the_sweep(self):
        # The goal reads the order's lines: changing a line writes no field of the order
        # the goal names, so the periodic sweep finds it.
        scenario = self.quotation_scenario(
            steps=[{"name": "Reminder", "trigger_type": "begin"}],
        )
        scenario.goal_domain = "[('order_line.product_uom_qty', '>=', 5)]"
        order = self.create_order()
        start = self.now()
        with freeze_time(start):
            scenario._enrol(order.ids)
            self.run_queue()
        order.order_line.product_uom_qty = 6
        with freeze_time(start + timedelta(hours=1)):
            self.run_queue()
        self.assertEqual(scenario.participant_ids.state, "completed", "no write of the order itself")
        with freeze_time(start + timedelta(hours=1)):
            self.env["email.automation.goal.check"]._cron_sweep_goals()
        self.assertEqual(scenario.participant_ids.state, "converted")

    def test_conversion_is_attributed_to_the_last_touch_within_the_window(self):
        scenario = self.quotation_scenario()
        order = self.create_order()
        start = self.now()
        with freeze_time(start):
            scenario._enrol(order.ids)
            self.run_queue()
        with freeze_time(start + timedelta(days=1, minutes=1)):
            self.run_queue()
        participant = scenario.participant_ids
        reminder, follow_up = self.trace_of(participant, "Reminder"), self.trace_of(participant, "Follow-up")
        self.assertEqual((reminder.state, follow_up.state), ("sent", "sent"))
        self.track(follow_up, "click", start + timedelta(days=1, hours=2))
        # A later open of the first e-mail is the last touch.
        self.track(reminder, "open", start + timedelta(days=2))
        # A machine open even later is not a touch.
        self.track(follow_up, "machine_open", start + timedelta(days=2, hours=1))
        with freeze_time(start + timedelta(days=3)):
            order.action_confirm()
            self.run_queue()
        self.assertEqual(participant.conversion_trace_id, reminder)
        self.assertEqual(participant.conversion_step_id, reminder.step_id)
        self.assertEqual(participant.preceding_step_id, follow_up.step_id, "the last e-mail sent before it")
        self.assertTrue(participant.is_attributed)
        self.assertEqual(reminder.step_id.attributed_conversion_count, 1)
        self.assertEqual(follow_up.step_id.attributed_conversion_count, 0)

    def test_conversion_without_a_touch_in_the_window_has_no_step(self):
        self.env["ir.config_parameter"].set_param("crm_email_automation.attribution_days", 2)
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        order = self.create_order()
        start = self.now()
        with freeze_time(start):
            scenario._enrol(order.ids)
            self.run_queue()
        participant = scenario.participant_ids
        self.track(self.trace_of(participant, "Reminder"), "click", start + timedelta(hours=1))
        with freeze_time(start + timedelta(days=3)):
            order.action_confirm()
            self.run_queue()
        self.assertEqual(participant.state, "converted")
        self.assertFalse(participant.conversion_step_id)
        self.assertFalse(participant.conversion_trace_id)
        self.assertFalse(participant.is_attributed)
        self.assertEqual(participant.preceding_step_id.name, "Reminder", "the step before it is still known")
        self.assertEqual(participant.revenue, order.amount_untaxed, "the revenue counts, without a step")
        self.assertEqual((scenario.conversion_count, scenario.unattributed_conversion_count), (1, 1))
        self.assertEqual(scenario.attributed_revenue, 0.0)

    def test_revenue_is_the_untaxed_amount_in_the_company_currency(self):
        company_currency = self.company.currency_id
        other = self.env.ref("base.EUR") if company_currency != self.env.ref("base.EUR") else self.env.ref("base.USD")
        other.active = True
        self.env["res.currency.rate"].search([("currency_id", "in", (other | company_currency).ids)]).unlink()
        # 1 company currency = 4 of the other, on the order's date.
        self.env["res.currency.rate"].create(
            {"currency_id": other.id, "rate": 4.0, "name": fields.Date.today(), "company_id": self.company.id}
        )
        pricelist = self.env["product.pricelist"].create({"name": "Other currency", "currency_id": other.id})
        tax = self.env["account.tax"].create({"name": "VAT 23", "amount": 23.0, "type_tax_use": "sale"})
        order = self.env["sale.order"].create(
            {
                "partner_id": self.partner_en.id,
                "pricelist_id": pricelist.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": 2,
                            "price_unit": 400.0,
                            "tax_id": [Command.set(tax.ids)],
                        }
                    )
                ],
            }
        )
        self.assertEqual((order.currency_id, order.amount_untaxed), (other, 800.0))
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        scenario._enrol(order.ids)
        self.run_queue()
        order.action_confirm()
        self.run_queue()
        participant = scenario.participant_ids
        self.assertEqual(participant.currency_id, company_currency)
        # 800 untaxed (984 with tax) in the other currency, at 4 per unit: 200.
        self.assertAlmostEqual(participant.revenue, 200.0)
        self.assertAlmostEqual(scenario.revenue, 200.0)

    def test_lead_revenue_is_the_expected_revenue_when_won(self):
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        scenario = self.create_scenario(
            "crm.lead",
            steps=[{"name": "Follow-up", "trigger_type": "begin"}],
            goal_domain="[('stage_id.is_won', '=', True)]",
        )
        lead, lost = self.env["crm.lead"].create(
            [
                {"name": "Big deal", "type": "opportunity", "partner_id": self.partner_en.id, "expected_revenue": 5000},
                {"name": "Small deal", "type": "opportunity", "partner_id": self.partner_pl.id, "expected_revenue": 70},
            ]
        )
        scenario._enrol((lead | lost).ids)
        self.run_queue()
        lead.action_set_won()
        self.assertEqual(lead.stage_id, won_stage)
        lost.action_set_lost()
        self.run_queue()
        by_lead = {p.res_id: p for p in scenario.participant_ids}
        self.assertEqual(by_lead[lead.id].state, "converted")
        self.assertAlmostEqual(by_lead[lead.id].revenue, 5000.0)
        self.assertEqual(by_lead[lost.id].state, "completed")
        self.assertEqual(by_lead[lost.id].revenue, 0.0)

    def test_held_out_participant_converts_as_well(self):
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}], holdout_percent=100)
        order = self.create_order()
        scenario._enrol(order.ids)
        self.run_queue()
        participant = scenario.participant_ids
        self.assertTrue(participant.is_holdout)
        self.assertEqual(participant.state, "completed")
        self.assertFalse(self.smtp.messages_to("john@example.com"))
        order.action_confirm()
        self.run_queue()
        self.assertEqual(participant.state, "converted")
        self.assertEqual(participant.revenue, order.amount_untaxed)
        self.assertEqual((scenario.conversion_count, scenario.holdout_conversion_count), (0, 1))

    def test_a_manager_cannot_forge_a_conversion(self):
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        order = self.create_order()
        scenario._enrol(order.ids)
        self.run_queue()
        participant = scenario.participant_ids.with_user(self.user_manager)
        for values in (
            {"revenue": 1_000_000},
            {"converted_at": fields.Datetime.now()},
            {"conversion_step_id": scenario.step_ids.id},
        ):
            with self.assertRaises(AccessError):
                participant.write(values)
        participant.invalidate_recordset()
        self.assertEqual((participant.revenue, participant.converted_at), (0.0, False))

    def test_conversion_settings_refuse_nonsense(self):
        for values in ({"email_automation_attribution_days": 0}, {"email_automation_conversion_days": -5}):
            with self.assertRaises(ValidationError):
                self.env["res.config.settings"].create(values)

    def test_manager_sets_the_windows_on_the_sending_policy(self):
        Settings = self.env["email.automation.settings"].with_user(self.user_manager)
        form = Settings.create({})
        self.assertEqual((form.attribution_days, form.conversion_days), (7, 30), "the defaults")
        Settings.create({"attribution_days": 3, "conversion_days": 45}).action_save()
        params = self.env["ir.config_parameter"]
        self.assertEqual(params.get_param("crm_email_automation.attribution_days"), "3")
        self.assertEqual(params.get_param("crm_email_automation.conversion_days"), "45")
        self.assertEqual(self.env["email.automation.participant"]._attribution_window(), timedelta(days=3))
        with self.assertRaises(ValidationError):
            Settings.create({"attribution_days": 0})
        self.assertEqual(params.get_param("crm_email_automation.attribution_days"), "3", "nothing changed")
