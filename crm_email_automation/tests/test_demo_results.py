import hashlib
from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from ..models.email_automation_demo_results import ANCHOR_PARAM
from .common import EmailAutomationCommon
from .test_demo_first_look import DEMO_SCENARIOS

TRACE_TIMES = ("scheduled_at", "sent_at", "delivered_at", "opened_at", "clicked_at", "bounced_at", "replied_at")
TRACE_COUNTS = ("open_count", "machine_open_count", "click_count", "machine_click_count")


@tagged("post_install", "-at_install")
class TestDemoResults(EmailAutomationCommon):
    """The demo's past results, as installed with the demo data: what a manager sees on the
    first look is not empty, the same on every install, and nothing of it is left to send."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        anchor = cls.env["ir.config_parameter"].sudo().get_param(ANCHOR_PARAM)
        cls.anchor = fields.Datetime.to_datetime(anchor)
        cls.scenarios = cls.env["email.automation.scenario"].browse(
            [cls.env.ref(f"crm_email_automation.{xmlid}").id for xmlid in DEMO_SCENARIOS]
        )
        cls.idle = cls.env.ref("crm_email_automation.email_automation_scenario_demo_idle_quotation")
        cls.generated = cls.env["email.automation.participant"].search(
            [("scenario_id", "in", cls.scenarios.ids), ("enrolled_at", "<", cls.anchor)]
        )

    def test_generated_once_at_install_over_the_last_sixty_days(self):
        self.assertTrue(self.anchor, "generated when the demo data was installed")
        self.assertEqual(self.generated.scenario_id, self.scenarios, "every demo scenario has a past")
        enrolled = self.generated.mapped("enrolled_at")
        self.assertGreaterEqual(min(enrolled), self.anchor - timedelta(days=62))
        self.assertLess(max(enrolled), self.anchor)
        events = self.env["email.automation.event"].search([("trace_id.participant_id", "in", self.generated.ids)])
        self.assertLess(max(events.mapped("occurred_at")), self.anchor)
        self.assertFalse(self.generated.filtered("is_test"))
        self.assertFalse(self.generated.trace_ids.filtered("is_test"))
        # Called again (a module update, a second demo load), it adds nothing.
        self.assertFalse(self.env["email.automation.demo.results"]._generate_demo_results())

    def test_manager_sees_the_flow_with_its_numbers(self):
        data = self.idle.with_user(self.user_manager).get_flow_data()
        counts = {node["name"]: node["counts"] for node in data["nodes"]}
        first, nudge, second = (
            counts["First reminder"],
            counts["Not opened: resend with another subject"],
            counts["Second reminder"],
        )
        self.assertGreater(first["sent"], 100)
        self.assertTrue(0 < first["opened"] < first["sent"], first)
        self.assertGreater(first["conversions"], 0)
        self.assertTrue(0 < nudge["sent"] < first["sent"], "only the reminders not opened went again")
        self.assertTrue(0 < nudge["clicked"] <= nudge["opened"], nudge)
        self.assertGreater(second["sent"], 0)
        for node in data["nodes"]:
            self.assertEqual((node["counts"]["waiting"], node["counts"]["failed"]), (0, 0), node["name"])
        # Each participant went one way at the branch, never both.
        decisions = self.env["email.automation.branch.decision"].search(
            [("trace_id.participant_id", "in", self.generated.ids)]
        )
        self.assertEqual(len(decisions), len(decisions.mapped("trace_id")))
        not_opened = decisions.filtered("is_negative").trace_id.participant_id
        nudged = self.generated.trace_ids.filtered(
            lambda t: t.step_id.trigger_type == "mail_not_opened" and t.state != "cancelled"
        )
        self.assertEqual(nudged.participant_id, not_opened)

    def test_manager_sees_the_kanban_summary(self):
        for scenario in self.scenarios.with_user(self.user_manager):
            self.assertGreater(scenario.mail_sent_count, 0, scenario.name)
            if scenario.category == "marketing":
                self.assertTrue(20 < scenario.opened_ratio < 80, (scenario.name, scenario.opened_ratio))
                self.assertGreater(scenario.converted_count, 0, scenario.name)
            else:
                self.assertEqual(scenario.opened_ratio, 0.0, "no tracking on transactional e-mail")
        self.assertGreater(self.idle.with_user(self.user_manager).clicked_ratio, 0)

    def test_manager_dashboard_this_period_against_the_previous(self):
        Report = self.env["email.automation.report"].with_user(self.user_manager)
        measures = ["sent_count:sum", "opened_count:sum", "conversion_count:sum", "revenue:sum"]
        periods = []
        for start, end in (
            (self.anchor - timedelta(days=30), self.anchor),
            (self.anchor - timedelta(days=60), self.anchor - timedelta(days=30)),
        ):
            rows = Report._read_group(
                [("scenario_id", "in", self.scenarios.ids), ("date", ">=", start), ("date", "<", end)],
                ["scenario_id"],
                measures,
            )
            periods.append({scenario: figures for scenario, *figures in rows})
        this, previous = periods
        for scenario in self.scenarios:
            self.assertGreater(this[scenario][0], 0, scenario.name)
            self.assertGreater(previous[scenario][0], 0, scenario.name)
        for period in (this, previous):
            sent, opened, conversions, revenue = period[self.idle]
            self.assertTrue(0 < opened < sent and conversions > 0 and revenue > 0, period[self.idle])
        self.assertGreater(this[self.idle][0], previous[self.idle][0], "the scenario grows")
        (totals,) = Report._read_group(
            [("scenario_id", "in", self.scenarios.ids)], [], ["bounced_count:sum", "unsubscribed_count:sum"]
        )
        self.assertTrue(all(totals), "a few bounces and unsubscribes, as in real life")

    def test_uplift_against_the_holdout(self):
        idle = self.idle.with_user(self.user_manager)
        self.assertTrue(idle.has_uplift, idle.uplift_status)
        self.assertGreaterEqual(idle.holdout_participant_count, 30)
        self.assertGreater(idle.uplift, 0)
        self.assertGreater(idle.incremental_revenue, 0)
        self.assertTrue(0 < idle.attributed_conversion_count <= idle.conversion_count)
        confirmed = self.generated.filtered(lambda p: p.scenario_id == self.idle and p.state == "converted")
        orders = self.env["sale.order"].browse(confirmed.mapped("res_id"))
        self.assertEqual(set(orders.mapped("state")), {"sale"})
        self.assertAlmostEqual(sum(confirmed.mapped("revenue")), sum(orders.mapped("amount_untaxed")), places=2)

    def test_same_results_on_every_install(self):
        expected = self.digest(self.generated)
        with self.env.cr.savepoint():
            again = self.env["email.automation.demo.results"].sudo()._generate_demo_results(now=self.anchor, force=True)
            self.assertEqual(len(again), len(self.generated))
            self.assertEqual(self.digest(again), expected)

    def test_nothing_generated_is_left_to_send(self):
        traces = self.generated.trace_ids
        self.assertNotIn("running", self.generated.mapped("state"))
        self.assertLessEqual(set(traces.mapped("state")), {"sent", "skipped", "cancelled"})
        self.assertFalse(traces.filtered("outcome_due_at"))
        before = traces.read(["state", "sent_at"])
        customers = self.generated.partner_id.filtered(lambda p: p.email and p.email.endswith((".pl", ".com")))
        self.scenarios.write({"state": "running"})
        Trace = self.env["email.automation.trace"]
        self.assertFalse(Trace._claim_due(10000, now=self.anchor + timedelta(days=365)) & traces)
        for days in (1, 3, 10):
            with freeze_time(self.anchor + timedelta(days=days)):
                self.run_queue()
        self.assertEqual(traces.read(["state", "sent_at"]), before)
        mailed = {address for message in self.smtp.messages for address in message.get_all("To", [])}
        self.assertFalse([c.email for c in customers if any(c.email in address for address in mailed)])

    def digest(self, participants):
        """What the results show, without ids, names the sequences give or the install time."""

        def offset(when):
            return int((when - self.anchor).total_seconds()) if when else None

        rows = []
        for participant in participants:
            traces = sorted(
                (
                    trace.step_id.name,
                    trace.state,
                    trace.reason or "",
                    *(offset(trace[name]) for name in TRACE_TIMES),
                    *(trace[name] for name in TRACE_COUNTS),
                    tuple(sorted((e.event_type, offset(e.occurred_at)) for e in trace.event_ids)),
                )
                for trace in participant.trace_ids
            )
            rows.append(
                (
                    participant.scenario_id.name,
                    participant.partner_id.name,
                    participant.state,
                    participant.is_holdout,
                    offset(participant.enrolled_at),
                    offset(participant.ended_at),
                    offset(participant.converted_at),
                    round(participant.revenue, 2),
                    participant.conversion_step_id.name or "",
                    tuple(traces),
                )
            )
        return hashlib.sha256(repr(sorted(rows, key=repr)).encode()).hexdigest()
