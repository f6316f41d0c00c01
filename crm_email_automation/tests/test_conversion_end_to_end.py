from datetime import datetime, timedelta
from email.utils import getaddresses

from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from ..statistics.proportions import newcombe_difference_interval
from .common import warm_up_http_statics
from .conversion_common import ConversionCommon
from .mail_client import MailClientMixin
from .test_unsubscribe_http import HttpPolicyCommon

OFFER = "https://shop.example.com/quotation/accept?ref=mail"
TERMS = "https://shop.example.com/terms"
QUOTATIONS = 90
WINDOW_DAYS = 2


@tagged("post_install", "-at_install")
class TestConversionEndToEnd(MailClientMixin, HttpPolicyCommon):
    """A sales manager's quotation scenario, end to end over the real parts: the reminder
    sent over SMTP, its pixel and tracked link fetched through Odoo's HTTP server as a mail
    client does, the "clicked" branch sent at once, the quotation confirmed, the conversion
    and its revenue attributed, and the uplift against the held-out quotations."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.customers = cls.env["res.partner"].create(
            [
                {
                    "name": f"Customer {index}",
                    "email": f"customer{index}@example.com",
                    "lang": "pl_PL" if index % 2 else "en_US",
                }
                for index in range(QUOTATIONS)
            ]
        )
        cls.grant(cls, cls.customers)
        body = (
            "<p>Your quotation <t t-out='object.name'/> is ready: <a href='%s'>accept it online</a>"
            " (see the <a href='%s'>terms</a>).</p>" % (OFFER.replace("&", "&amp;"), TERMS)
        )
        body_pl = (
            "<p>Państwa oferta <t t-out='object.name'/> jest gotowa: <a href='%s'>accept it online</a>"
            " (zob. <a href='%s'>terms</a>).</p>" % (OFFER, TERMS)
        )
        order = "sale.order"
        cls.reminder_template = cls._create_template(
            order, "Your quotation {{ object.name }}", "Oferta {{ object.name }}", body, body_pl
        )
        cls.clicked_template = cls._create_template(
            order,
            "Questions about {{ object.name }}?",
            "Pytania o ofertę {{ object.name }}?",
            "<p>Thank you for looking at your quotation. Shall we call you?</p>",
            "<p>Dziękujemy za zapoznanie się z ofertą. Czy mamy zadzwonić?</p>",
        )
        cls.not_clicked_template = cls._create_template(
            order,
            "Still thinking about {{ object.name }}?",
            "Czy oferta {{ object.name }} jest nadal aktualna?",
            "<p>Your quotation is still waiting for you.</p>",
            "<p>Państwa oferta nadal czeka na decyzję.</p>",
        )

    def build_scenario(self):
        """What the manager sets up in the scenario form: reminder at each new quotation,
        then "clicked the offer" and "not clicked within 2 days" branches, half held out."""
        Scenario = self.env["email.automation.scenario"].with_user(self.user_manager)
        scenario = Scenario.create(
            {
                "name": "Quotation follow-up",
                "model_id": self.env["ir.model"]._get_id("sale.order"),
                "trigger": "on_create",
                "category": "marketing",
                "goal_domain": "[('state', '=', 'sale')]",
                "holdout_percent": 50,
                "user_id": self.user_manager.id,
                "step_ids": [
                    Command.create(
                        {"name": "Reminder", "trigger_type": "begin", "mail_template_id": self.reminder_template.id}
                    )
                ],
            }
        )
        reminder = scenario.step_ids
        scenario.write(
            {
                "step_ids": [
                    Command.create(
                        {
                            "name": "Clicked",
                            "parent_id": reminder.id,
                            "trigger_type": "mail_clicked",
                            "trigger_url": OFFER,
                            "mail_template_id": self.clicked_template.id,
                        }
                    ),
                    Command.create(
                        {
                            "name": "Not clicked",
                            "parent_id": reminder.id,
                            "trigger_type": "mail_not_clicked",
                            "trigger_url": OFFER,
                            "trigger_window": WINDOW_DAYS,
                            "trigger_window_unit": "days",
                            "mail_template_id": self.not_clicked_template.id,
                        }
                    ),
                ]
            }
        )
        self.assertTrue(scenario.is_tracking_enabled, "tracking is on by default for marketing e-mail")
        scenario.action_start()
        return scenario

    def messages_to(self, partner):
        """The automation's e-mails to exactly this address (customer1@ is not customer10@)."""
        return [m for m in self.smtp.messages if partner.email in {a for _n, a in getaddresses([str(m["To"])])}]

    def subjects(self, partner):
        return [message["Subject"] for message in self.messages_to(partner)]

    def trace_of(self, participant, step_name):
        return participant.trace_ids.filtered(lambda t: t.step_id.name == step_name)

    def test_smtp_send_open_click_branch_confirm_attribute_uplift(self):
        scenario = self.build_scenario()
        Order = self.env["sale.order"].with_user(self.user_manager)
        line = {"product_id": self.product.id, "product_uom_qty": 2}
        # The quotations are written an hour ago: the reminders leave at the next queue run.
        sent_at = datetime.now().replace(microsecond=0) - timedelta(hours=1)
        with freeze_time(sent_at):
            orders = Order.create([{"partner_id": p.id, "order_line": [Command.create(line)]} for p in self.customers])
            self.run_queue()
        participants = scenario.participant_ids
        self.assertEqual(len(participants), QUOTATIONS)
        mailed = participants.filtered(lambda p: not p.is_holdout)
        held_out = participants - mailed
        self.assertGreaterEqual(min(len(mailed), len(held_out)), 30, "both arms large enough (stable hash)")
        customer_of = {p.id: self.customers.filtered(lambda c, p=p: c == p.partner_id) for p in participants}
        for participant in mailed:
            self.assertEqual(len(self.subjects(customer_of[participant.id])), 1)
        for participant in held_out:
            self.assertEqual(self.subjects(customer_of[participant.id]), [])
            self.assertEqual(self.trace_of(participant, "Reminder").reason, "holdout")

        # One customer reads the reminder in a mail client: it loads the pixel, then the
        # customer clicks the offer. Nothing but HTTP requests to Odoo's server.
        star = mailed[0]
        customer = customer_of[star.id]
        star_order = orders.filtered(lambda o: o.id == star.res_id)
        (message,) = self.messages_to(customer)
        self.assertIn(star_order.name, message["Subject"])
        html = self.html_of(message)
        label = "accept it online"
        self.assertIn("/email_automation/r/", self.links(html)[label])
        response = self.fetch(self.pixel(html))
        self.assertEqual((response.status_code, response.headers["Content-Type"]), (200, "image/gif"))
        self.smtp.clear()
        before_click = datetime.now().replace(microsecond=0)
        response = self.fetch(self.links(html)[label])
        self.assertEqual((response.status_code, response.headers["Location"]), (302, OFFER))
        clicked_at = datetime.now()

        # The click scheduled the "clicked" branch at once, and woke the queue up.
        self.env.invalidate_all()
        reminder = self.trace_of(star, "Reminder")
        self.assertEqual(sorted(reminder.event_ids.mapped("event_type")), ["click", "open"])
        self.assertTrue(reminder.opened_at and reminder.clicked_at)
        clicked = self.trace_of(star, "Clicked")
        self.assertEqual(clicked.state, "scheduled")
        self.assertLessEqual(clicked.scheduled_at, clicked_at)
        self.assertGreaterEqual(clicked.scheduled_at, reminder.clicked_at)
        cron = self.env.ref("crm_email_automation.ir_cron_process_queue")
        wake_ups = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", cron.id), ("call_at", ">=", before_click), ("call_at", "<=", clicked_at)]
        )
        self.assertTrue(wake_ups, "the click wakes the queue up rather than leave it for its next scheduled run")
        self.assertEqual(self.smtp.messages, [], "nothing is sent inside the click's request")
        # One queue run later its e-mail is at the SMTP server, in the customer's language.
        self.run_queue()
        expected = "Pytania o ofertę %s?" if customer.lang == "pl_PL" else "Questions about %s?"
        self.assertEqual(self.subjects(customer), [expected % star_order.name])
        self.assertEqual(self.trace_of(star, "Clicked").state, "sent")

        # The window closes: the other mailed customers get the "not clicked" e-mail, the one
        # who clicked never does, and the held-out customers get nothing at all.
        self.smtp.clear()
        with freeze_time(sent_at + timedelta(days=WINDOW_DAYS, hours=1)):
            self.run_queue()
        self.assertEqual(self.subjects(customer), [])
        self.assertFalse(self.trace_of(star, "Not clicked"))
        for participant in mailed - star:
            self.assertEqual(len(self.subjects(customer_of[participant.id])), 1)
            self.assertEqual(self.trace_of(participant, "Not clicked").state, "sent")
            self.assertFalse(self.trace_of(participant, "Clicked"))
        for participant in held_out:
            self.assertEqual(self.subjects(customer_of[participant.id]), [])

        # The customer accepts: the quotation is confirmed three days after the click.
        confirmed_at = sent_at + timedelta(days=3)
        with freeze_time(confirmed_at):
            star_order.action_confirm()
            self.run_queue()
        self.assertEqual(star.state, "converted")
        self.assertEqual(star.converted_at, confirmed_at)
        self.assertEqual(star.conversion_trace_id, reminder, "the last touch: the click on the reminder")
        self.assertEqual(star.conversion_step_id.name, "Reminder")
        self.assertEqual(star.preceding_step_id.name, "Clicked", "the last e-mail before the confirmation")
        self.assertEqual(star.revenue, star_order.amount_untaxed)
        self.assertEqual(star.revenue, 200.0)

        # More quotations confirmed in both arms, with no click: 20 mailed and 6 held out in all.
        with freeze_time(confirmed_at + timedelta(hours=1)):
            orders.filtered(lambda o: o.id in mailed[1:20].mapped("res_id")).action_confirm()
            orders.filtered(lambda o: o.id in held_out[:6].mapped("res_id")).action_confirm()
            self.run_queue()

        # What the manager reads on the scenario, its steps and its flow.
        scenario = scenario.with_user(self.user_manager)
        scenario.invalidate_recordset()
        self.assertEqual(scenario.conversion_count, 20)
        self.assertEqual(scenario.holdout_conversion_count, 6)
        self.assertEqual((scenario.attributed_conversion_count, scenario.unattributed_conversion_count), (1, 19))
        self.assertAlmostEqual(scenario.revenue, 20 * 200.0)
        self.assertAlmostEqual(scenario.attributed_revenue, 200.0)
        self.assertEqual((scenario.human_open_count, scenario.human_click_count), (1, 1))
        steps = {step.name: step for step in scenario.step_ids}
        self.assertEqual(steps["Reminder"].attributed_conversion_count, 1)
        self.assertAlmostEqual(steps["Reminder"].attributed_revenue, 200.0)
        self.assertEqual(steps["Clicked"].attributed_conversion_count, 0)
        nodes = {node["name"]: node["counts"] for node in scenario.get_flow_data()["nodes"]}
        self.assertEqual(
            {name: (c["sent"], c["opened"], c["clicked"], c["conversions"]) for name, c in nodes.items()},
            {
                "Reminder": (len(mailed), 1, 1, 1),
                "Clicked": (1, 0, 0, 0),
                "Not clicked": (len(mailed) - 1, 0, 0, 0),
            },
        )

        # The uplift: 20/m mailed against 6/h held out, Newcombe's interval (in points).
        m, h = len(mailed), len(held_out)
        self.assertEqual((scenario.mailed_participant_count, scenario.holdout_participant_count), (m, h))
        difference, lower, upper = newcombe_difference_interval(20, m, 6, h)
        self.assertTrue(scenario.has_uplift)
        self.assertFalse(scenario.uplift_status)
        self.assertAlmostEqual(scenario.mailed_conversion_rate, 100 * 20 / m, delta=0.05)
        self.assertAlmostEqual(scenario.holdout_conversion_rate, 100 * 6 / h, delta=0.05)
        self.assertAlmostEqual(scenario.uplift, 100 * difference, delta=0.05)
        self.assertAlmostEqual(scenario.uplift, 100 * (20 / m - 6 / h), delta=0.05)
        self.assertAlmostEqual(scenario.uplift_lower, 100 * lower, delta=0.05)
        self.assertAlmostEqual(scenario.uplift_upper, 100 * upper, delta=0.05)
        self.assertLess(scenario.uplift_lower, scenario.uplift)
        self.assertLess(scenario.uplift, scenario.uplift_upper)
        # Incremental: what the mailed arm did beyond the held-out arm's rate, scaled to m.
        self.assertAlmostEqual(scenario.incremental_conversions, 20 - 6 * m / h, delta=0.05)
        self.assertAlmostEqual(scenario.incremental_revenue, 20 * 200.0 - 6 * 200.0 * m / h, delta=0.005)


@tagged("post_install", "-at_install")
class TestUpliftStatus(ConversionCommon):
    """The uplift says what it lacks rather than show a misleading figure."""

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
