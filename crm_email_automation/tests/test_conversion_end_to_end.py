from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from ..statistics.proportions import holdout_uplift, newcombe_difference_interval
from .conversion_common import ConversionCommon


@tagged("post_install", "-at_install")
class TestConversionEndToEnd(ConversionCommon):
    """SMTP send, open, click, follow-up sent, quotation confirmed, conversion and revenue
    attributed, uplift against the holdout."""

    def test_smtp_send_open_click_follow_up_confirm_attribute_uplift(self):
        scenario = self.quotation_scenario(holdout_percent=50)
        partners = self.partner_en | self.partner_pl
        orders = self.env["sale.order"]
        for index in range(90):
            orders |= self.create_order(partners[index % 2])
        start = self.now()
        with freeze_time(start):
            scenario._enrol(orders.ids)
            self.run_queue()
        participants = scenario.participant_ids
        mailed = participants.filtered(lambda p: not p.is_holdout)
        held_out = participants - mailed
        self.assertEqual(len(participants), 90)
        self.assertGreaterEqual(min(len(mailed), len(held_out)), 30, "both arms large enough (stable hash)")
        # The reminders reached the SMTP server, the held-out participants got nothing.
        sent = len(self.smtp.messages_to("john@example.com")) + len(self.smtp.messages_to("jan@example.pl"))
        self.assertEqual(sent, len(mailed))
        held_out_reminders = held_out.trace_ids.filtered(lambda t: t.step_id.name == "Reminder")
        self.assertEqual(set(held_out_reminders.mapped("reason")), {"holdout"})

        # One customer opens the reminder, then clicks it; the follow-up goes out next day.
        star = mailed[0]
        star_order = orders.filtered(lambda o: o.id == star.res_id)
        reminder = self.trace_of(star, "Reminder")
        self.assertTrue(reminder.message_id, "sent over SMTP")
        self.track(reminder, "open", start + timedelta(hours=2))
        self.track(reminder, "click", start + timedelta(hours=2, minutes=1))
        self.assertEqual(reminder.click_count, 1)
        with freeze_time(start + timedelta(days=1, minutes=5)):
            self.run_queue()
        follow_up = self.trace_of(star, "Follow-up")
        self.assertEqual(follow_up.state, "sent")
        self.assertEqual(sent + len(mailed), sum(len(self.smtp.messages_to(p.email)) for p in partners))

        # The quotation is confirmed two days later: converted, attributed to the click.
        confirmed_at = start + timedelta(days=3)
        with freeze_time(confirmed_at):
            star_order.action_confirm()
            self.run_queue()
        self.assertEqual(star.state, "converted")
        self.assertEqual(star.converted_at, confirmed_at)
        self.assertEqual(star.conversion_trace_id, reminder, "the last touch: the click on the reminder")
        self.assertEqual(star.conversion_step_id.name, "Reminder")
        self.assertEqual(star.revenue, star_order.amount_untaxed)
        self.assertEqual(star.revenue, 200.0)

        # More quotations confirmed in both arms: 20 mailed and 6 held out in all.
        with freeze_time(confirmed_at + timedelta(hours=1)):
            (orders.filtered(lambda o: o.id in mailed[1:20].mapped("res_id"))).action_confirm()
            (orders.filtered(lambda o: o.id in held_out[:6].mapped("res_id"))).action_confirm()
            self.run_queue()
        self.assertEqual(scenario.conversion_count, 20)
        self.assertEqual(scenario.holdout_conversion_count, 6)
        self.assertEqual(scenario.attributed_conversion_count, 1)
        self.assertEqual(scenario.unattributed_conversion_count, 19)
        self.assertAlmostEqual(scenario.revenue, 20 * 200.0)
        self.assertAlmostEqual(scenario.attributed_revenue, 200.0)

        # The uplift: 20/m mailed against 6/h held out, Newcombe's interval (shown to 0.1 point).
        m, h = len(mailed), len(held_out)
        difference, lower, upper = newcombe_difference_interval(20, m, 6, h)
        self.assertTrue(scenario.has_uplift)
        self.assertFalse(scenario.uplift_status)
        self.assertAlmostEqual(scenario.mailed_conversion_rate, 100 * 20 / m, delta=0.05)
        self.assertAlmostEqual(scenario.holdout_conversion_rate, 100 * 6 / h, delta=0.05)
        self.assertAlmostEqual(scenario.uplift, 100 * (20 / m - 6 / h), delta=0.05)
        self.assertAlmostEqual(scenario.uplift_lower, 100 * lower, delta=0.05)
        self.assertAlmostEqual(scenario.uplift_upper, 100 * upper, delta=0.05)
        self.assertLess(scenario.uplift_lower, scenario.uplift)
        self.assertLess(scenario.uplift, scenario.uplift_upper)
        expected = holdout_uplift(m, 20, h, 6, mailed_revenue=4000.0, holdout_revenue=1200.0)
        self.assertAlmostEqual(scenario.incremental_conversions, difference * m, delta=0.05)
        self.assertAlmostEqual(scenario.incremental_conversions, 20 - 6 * m / h, delta=0.05)
        self.assertAlmostEqual(scenario.incremental_revenue, expected.incremental_revenue, places=2)
        self.assertAlmostEqual(scenario.incremental_revenue, 4000.0 - 1200.0 * m / h, delta=0.005)

    def test_uplift_waits_for_enough_participants(self):
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}], holdout_percent=20)
        orders = self.env["sale.order"]
        for _index in range(10):
            orders |= self.create_order()
        scenario._enrol(orders.ids)
        self.run_queue()
        orders.action_confirm()
        self.run_queue()
        holdout = len(scenario.participant_ids.filtered("is_holdout"))
        mailed = 10 - holdout
        self.assertFalse(scenario.has_uplift)
        self.assertEqual((scenario.uplift, scenario.uplift_lower, scenario.uplift_upper), (0.0, 0.0, 0.0))
        # Enrolments needed, at 20% held out, for 30 in each arm.
        needed = max(-(-(30 - holdout) * 5 // 1), -(-(30 - mailed) * 5 // 4))
        self.assertIn(f"{needed} more participants needed", scenario.uplift_status)

    def test_uplift_without_holdout_says_so(self):
        scenario = self.quotation_scenario(steps=[{"name": "Reminder", "trigger_type": "begin"}])
        scenario._enrol(self.create_order().ids)
        self.run_queue()
        self.assertFalse(scenario.has_uplift)
        self.assertIn("No holdout", scenario.uplift_status)
