import math
from datetime import timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from ..models.email_automation_step_variant import variant_bucket
from ..statistics.ab_test import two_proportion_z_test
from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestAbVariants(EmailAutomationCommon):
    """A/B tests of a mail step, configured and read by an "E-mail Automation / Manager"."""

    def setUp(self):
        super().setUp()
        Scenario = self.env["email.automation.scenario"].with_user(self.user_manager)
        self.scenario = Scenario.create(
            {
                "name": "A/B welcome",
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "trigger": "manual",
                "category": "transactional",
                "user_id": self.user_manager.id,
                "step_ids": [
                    Command.create(
                        {
                            "name": "Welcome",
                            "trigger_type": "begin",
                            "action_type": "mail",
                            "mail_template_id": self.template_partner.id,
                            "delay": 0,
                            "variant_ids": [
                                Command.create({"name": "A", "share": 50, "subject": "A: hello {{ object.name }}"}),
                                Command.create({"name": "B", "share": 50, "subject": "B: welcome {{ object.name }}"}),
                            ],
                        }
                    )
                ],
            }
        )
        self.step = self.scenario.step_ids
        self.variant_a, self.variant_b = self.step.variant_ids.sorted("id")
        self.variant_b.update_field_translations("subject", {"pl_PL": "B: witamy, {{ object.name }}"})

    def _partners(self, count, prefix="ab"):
        return self.env["res.partner"].create(
            [
                {"name": f"{prefix} {index}", "email": f"{prefix}.{index}@example.com", "lang": "en_US"}
                for index in range(count)
            ]
        )

    def _sent_traces(self, variant, count, opened=0, clicked=0, converted=0, is_test=False):
        """`count` sent e-mails of `variant`, the first `opened` opened, `clicked` clicked,
        `converted` of their participants converted."""
        now = fields.Datetime.now()
        partners = self._partners(count, prefix=f"{variant.name}{'t' if is_test else ''}{variant.id}")
        participants = self.env["email.automation.participant"].create(
            [
                {
                    "scenario_id": self.scenario.id,
                    "res_model": "res.partner",
                    "res_id": partner.id,
                    "partner_id": partner.id,
                }
                for partner in partners
            ]
        )
        participants[:converted].sudo().converted_at = now
        return self.env["email.automation.trace"].create(
            [
                {
                    "participant_id": participant.id,
                    "step_id": self.step.id,
                    "variant_id": variant.id,
                    "state": "sent",
                    "is_test": is_test,
                    "sent_at": now,
                    "message_id": f"<ab-{participant.id}@example.com>",
                    "opened_at": now if index < opened else False,
                    "clicked_at": now if index < clicked else False,
                }
                for index, participant in enumerate(participants)
            ]
        )

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------

    def test_each_email_has_its_variants_subject_in_the_recipients_language(self):
        self.scenario.with_user(self.user_manager).action_start()
        partners = self._partners(8) | self.partner_pl
        self.scenario._enrol(partners.ids)
        self.run_queue()
        traces = self.scenario.participant_ids.trace_ids
        self.assertEqual(set(traces.mapped("state")), {"sent"})
        self.assertTrue(all(traces.mapped("variant_id")))
        for trace in traces:
            partner = trace.participant_id.partner_id
            (message,) = self.assertSentTo(partner.email)
            if partner == self.partner_pl and trace.variant_id == self.variant_b:
                expected = f"B: witamy, {partner.name}"
            else:
                word = "hello" if trace.variant_id == self.variant_a else "welcome"
                expected = f"{trace.variant_id.name}: {word} {partner.name}"
            self.assertEqual(message["Subject"], expected)

    def test_variant_template_replaces_the_steps(self):
        other = self._create_template(
            "res.partner",
            subject="Other template for {{ object.name }}",
            subject_pl="Inny szablon dla {{ object.name }}",
            body="<p>Another body</p>",
            body_pl="<p>Inna treść</p>",
        )
        self.variant_b.with_user(self.user_manager).write({"subject": False, "mail_template_id": other.id})
        self.scenario.with_user(self.user_manager).action_start()
        partners = self._partners(40)
        self.scenario._enrol(partners.ids)
        self.run_queue()
        for trace in self.scenario.participant_ids.trace_ids:
            (message,) = self.assertSentTo(trace.participant_id.partner_id.email)
            if trace.variant_id == self.variant_b:
                self.assertEqual(message["Subject"], f"Other template for {trace.participant_id.partner_id.name}")
                self.assertIn("Another body", message.get_body(("html",)).get_content())
            else:
                self.assertTrue(message["Subject"].startswith("A: hello"))
        # 40 participants at 50/50: both variants were sent (all in one: odds 2 in 2^40).
        self.assertEqual(self.scenario.participant_ids.trace_ids.variant_id, self.variant_a | self.variant_b)

    def test_assignment_is_stable_across_retries_and_share_changes(self):
        self.scenario.with_user(self.user_manager).action_start()
        self.scenario._enrol(self.partner_en.ids)
        trace = self.scenario.participant_ids.trace_ids
        self.smtp.handler.reply = lambda message: "451 4.3.0 Mailbox busy, try later"
        now = fields.Datetime.now()
        with freeze_time(now):
            self.run_queue()
        self.assertEqual(trace.state, "scheduled")
        first = trace.variant_id
        self.assertTrue(first)
        self.assertEqual(self.step._ab_pick_variant(trace.participant_id.id), first)
        # The shares move all the weight to the other variant: the e-mail being retried keeps its own.
        other = (self.variant_a | self.variant_b) - first
        self.step.with_user(self.user_manager).write(
            {"variant_ids": [Command.update(first.id, {"share": 1}), Command.update(other.id, {"share": 99})]}
        )
        self.smtp.handler.reply = None
        with freeze_time(now + timedelta(minutes=6)):
            self.run_queue()
        self.assertEqual(trace.state, "sent")
        self.assertEqual(trace.variant_id, first)
        (message,) = self.assertSentTo("john@example.com")
        self.assertTrue(message["Subject"].startswith(first.name + ":"))

    def test_shares_are_respected_over_many_participants(self):
        self.step.with_user(self.user_manager).write(
            {
                "variant_ids": [
                    Command.update(self.variant_a.id, {"share": 20}),
                    Command.update(self.variant_b.id, {"share": 30}),
                    Command.create({"name": "C", "share": 50}),
                ]
            }
        )
        variants = self.step.variant_ids.sorted("id")
        total = 20000
        picked = dict.fromkeys(variants, 0)
        for participant_id in range(1, total + 1):
            picked[self.step._ab_pick_variant(participant_id)] += 1
        for variant in variants:
            share = variant.share / 100
            # Six standard deviations of a binomial count: exceeded with probability < 2e-9
            # if the buckets are uniform, so this cannot flake, yet a 1-point bias in the
            # shares (200 participants) would fail it.
            bound = 6 * math.sqrt(total * share * (1 - share))
            self.assertLess(abs(picked[variant] - total * share), bound, f"{variant.name}: {picked[variant]}")
        # The bucket is the same whenever it is asked for.
        self.assertEqual(variant_bucket(self.step.id, 42), variant_bucket(self.step.id, 42))
        self.assertNotEqual(variant_bucket(self.step.id, 42), variant_bucket(self.step.id + 1, 42))

    # ------------------------------------------------------------------
    # Configuration
    # ------------------------------------------------------------------

    def test_shares_must_add_up_to_100(self):
        Variant = self.env["email.automation.variant"].with_user(self.user_manager)
        with self.assertRaises(ValidationError) as caught:
            Variant.create({"step_id": self.step.id, "name": "C", "share": 30})
        self.assertIn("add up to 130%; they must add up to 100%", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            self.variant_b.with_user(self.user_manager).unlink()
        self.assertIn("add up to 50%", str(caught.exception))
        with self.assertRaises(ValidationError) as caught:
            self.step.with_user(self.user_manager).write(
                {"variant_ids": [Command.update(self.variant_a.id, {"share": 0})]}
            )
        self.assertIn("between 1 and 100", str(caught.exception))
        # The step form may delete a variant before it raises another's share.
        self.step.with_user(self.user_manager).write(
            {"variant_ids": [Command.delete(self.variant_b.id), Command.update(self.variant_a.id, {"share": 100})]}
        )
        self.step.with_user(self.user_manager).write(
            {
                "variant_ids": [
                    Command.update(self.variant_a.id, {"share": 50}),
                    Command.create({"name": "B", "share": 50}),
                ]
            }
        )
        self.step.with_user(self.user_manager).write(
            {
                "variant_ids": [
                    Command.update(self.variant_a.id, {"share": 10}),
                    Command.create({"name": "C", "share": 40}),
                ]
            }
        )
        self.assertEqual(self.step.variant_ids.mapped("share"), [10, 50, 40])
        with self.assertRaises(ValidationError) as caught:
            self.step.with_user(self.user_manager).write(
                {
                    "variant_ids": [
                        Command.update(v.id, {"share": 20 if v.name == "A" else 10}) for v in self.step.variant_ids
                    ]
                    + [Command.create({"name": f"X{index}", "share": 10}) for index in range(5)]
                }
            )
        self.assertIn("5 at most", str(caught.exception))
        # One variant is no test, and none at all the step's own e-mail.
        self.step.with_user(self.user_manager).write(
            {"variant_ids": [Command.clear(), Command.create({"name": "Only", "share": 100})]}
        )
        self.assertFalse(self.step.is_ab_test)
        self.assertFalse(self.step.variant_ids.test_result)

    # ------------------------------------------------------------------
    # Figures, the test, the reports
    # ------------------------------------------------------------------

    def test_figures_and_z_test_leave_test_emails_out(self):
        self.step.ab_metric = "open"
        self._sent_traces(self.variant_a, 60, opened=12, clicked=3, converted=2)
        self._sent_traces(self.variant_b, 60, opened=27, clicked=6, converted=5)
        # Test e-mails, all opened: they must change nothing.
        self._sent_traces(self.variant_a, 5, opened=5, clicked=5, is_test=True)
        step = self.step.with_user(self.user_manager)
        variant_a, variant_b = step.variant_ids.sorted("id")
        self.assertEqual((variant_a.sent_count, variant_a.opened_count, variant_a.clicked_count), (60, 12, 3))
        self.assertEqual((variant_b.sent_count, variant_b.opened_count, variant_b.clicked_count), (60, 27, 6))
        self.assertEqual((variant_a.conversion_count, variant_b.conversion_count), (2, 5))
        self.assertAlmostEqual(variant_a.open_rate, 20.0)
        self.assertAlmostEqual(variant_b.open_rate, 45.0)
        self.assertAlmostEqual(variant_b.click_rate, 10.0)
        # By hand: p = 39 / 120 = 0.325; p (1 - p) = 0.219375; x (2 / 60) = 0.0073125;
        # se = 0.0855132; z = (0.45 - 0.20) / 0.0855132 = 2.9235; Phi(2.92) = 0.99825, Phi(2.93) = 0.99831
        # -> Phi(2.9235) = 0.998271; p-value = 2 (1 - 0.998271) = 0.00346.
        # The field shows it to 4 places.
        self.assertEqual(variant_b.p_value, 0.0035)
        self.assertEqual(variant_a.p_value, round(two_proportion_z_test(12, 60, 27, 60)[1], 4))
        self.assertEqual(variant_b.test_result, "Best, significant at 95%")
        self.assertEqual(variant_a.test_result, "Worse, significant at 95%")
        # On clicks (3 and 6 of 60: 60 x 9/120 = 4.5 expected clicks < 5), no verdict yet.
        step.ab_metric = "click"
        step.variant_ids.invalidate_recordset()
        self.assertEqual(step.variant_ids.mapped("test_result"), ["Not enough data yet"] * 2)
        self.assertEqual(step.variant_ids.mapped("p_value"), [0.0, 0.0])

    def test_flow_node_and_reports_show_the_variants(self):
        self._sent_traces(self.variant_a, 3, opened=1)
        self._sent_traces(self.variant_b, 2, opened=2, clicked=1)
        self._sent_traces(self.variant_b, 4, opened=4, is_test=True)
        scenario = self.scenario.with_user(self.user_manager)
        (node,) = scenario.get_flow_data()["nodes"]
        self.assertEqual([v["name"] for v in node["variants"]], ["A", "B"])
        self.assertEqual([v["sent"] for v in node["variants"]], [3, 2])
        self.assertEqual([round(v["open_rate"], 1) for v in node["variants"]], [33.3, 100.0])
        self.assertEqual([v["share"] for v in node["variants"]], [50, 50])
        self.assertEqual(node["variants"][1]["test_result"], "Not enough data yet")
        self.assertEqual(node["counts"]["sent"], 5)

        Report = self.env["email.automation.report"].with_user(self.user_manager)
        groups = Report._read_group(
            [("scenario_id", "=", self.scenario.id), ("kind", "=", "mail")],
            ["variant_id"],
            ["sent_count:sum", "opened_count:sum", "clicked_count:sum"],
        )
        self.assertEqual({variant.name: figures for variant, *figures in groups}, {"A": [3, 1, 0], "B": [2, 2, 1]})
        Trace = self.env["email.automation.trace"].with_user(self.user_manager)
        by_variant = Trace._read_group(
            [("scenario_id", "=", self.scenario.id), ("is_test", "=", False)], ["variant_id"], ["__count"]
        )
        self.assertEqual({variant.name: count for variant, count in by_variant}, {"A": 3, "B": 2})

    def test_conversions_in_the_report_by_attributed_variant(self):
        trace = self._sent_traces(self.variant_b, 1, opened=1)
        trace.participant_id.sudo().write(
            {
                "converted_at": fields.Datetime.now(),
                "conversion_trace_id": trace.id,
                "conversion_step_id": self.step.id,
                "revenue": 250.0,
            }
        )
        self.assertEqual(trace.participant_id.conversion_variant_id, self.variant_b)
        Report = self.env["email.automation.report"].with_user(self.user_manager)
        groups = Report._read_group(
            [("scenario_id", "=", self.scenario.id), ("kind", "=", "conversion")],
            ["variant_id"],
            ["conversion_count:sum", "revenue:sum"],
        )
        self.assertEqual(groups, [(self.variant_b, 1, 250.0)])
        Participant = self.env["email.automation.participant"].with_user(self.user_manager)
        self.assertEqual(
            Participant._read_group([("scenario_id", "=", self.scenario.id)], ["conversion_variant_id"], ["__count"]),
            [(self.variant_b, 1)],
        )

    # ------------------------------------------------------------------
    # Automatic winner
    # ------------------------------------------------------------------

    def test_winner_after_recipients_is_logged_and_sent_to_the_rest(self):
        self.step.with_user(self.user_manager).write(
            {"ab_metric": "click", "ab_auto_winner": True, "ab_winner_after_count": 100}
        )
        self.scenario.with_user(self.user_manager).action_start()
        self._sent_traces(self.variant_a, 50, opened=20, clicked=4)
        self._sent_traces(self.variant_b, 49, opened=20, clicked=15)
        self.env["email.automation.step"]._cron_decide_ab_winners()
        self.assertFalse(self.step.ab_decided_at, "99 recipients: not yet")
        self.assertFalse(self.step.variant_ids.filtered("is_winner"))
        # Test e-mails do not count towards the 100.
        self._sent_traces(self.variant_b, 3, is_test=True)
        self.env["email.automation.step"]._cron_decide_ab_winners()
        self.assertFalse(self.step.ab_decided_at)

        self._sent_traces(self.variant_a, 1)
        now = fields.Datetime.now()
        with freeze_time(now):
            self.env["email.automation.step"]._cron_decide_ab_winners()
        self.assertEqual(self.step.ab_decided_at, now)
        self.assertTrue(self.variant_b.is_winner)
        self.assertFalse(self.variant_a.is_winner)
        message = self.scenario.message_ids[0]
        body = message.body
        self.assertIn("“B” wins on click rate", body)
        # The figures it was decided on: B 15/49 clicks = 30.6%, A 4/51 = 7.8%, and the p-value.
        self.assertIn("30.6%", body)
        self.assertIn("7.8%", body)
        p_value = two_proportion_z_test(15, 49, 4, 51)[1]
        self.assertIn(f"{p_value:.4f}", body)

        # Everyone still to come gets the winner, over SMTP.
        partners = self._partners(6, prefix="late")
        self.scenario._enrol(partners.ids)
        self.run_queue()
        late = self.scenario.participant_ids.filtered(lambda p: p.partner_id in partners).trace_ids
        self.assertEqual(late.variant_id, self.variant_b)
        for partner in partners:
            (mail,) = self.assertSentTo(partner.email)
            self.assertEqual(mail["Subject"], f"B: welcome {partner.name}")
        # Decided once: the cron does not decide or log it again.
        count = len(self.scenario.message_ids)
        self.env["email.automation.step"]._cron_decide_ab_winners()
        self.assertEqual(len(self.scenario.message_ids), count)

    def test_winner_after_hours_is_decided_by_the_queue_before_sending(self):
        self.step.with_user(self.user_manager).write(
            {"ab_metric": "open", "ab_auto_winner": True, "ab_winner_after_hours": 24}
        )
        self.scenario.with_user(self.user_manager).action_start()
        self._sent_traces(self.variant_a, 10, opened=6)
        self._sent_traces(self.variant_b, 10, opened=2)
        partners = self._partners(4, prefix="next")
        self.scenario._enrol(partners.ids)
        with freeze_time(fields.Datetime.now() + timedelta(hours=25)):
            self.run_queue()
        self.assertTrue(self.variant_a.is_winner)
        self.assertIn("“A” wins on human open rate", self.scenario.message_ids[0].body)
        self.assertIn("Not enough data yet", self.scenario.message_ids[0].body)
        for partner in partners:
            (mail,) = self.assertSentTo(partner.email)
            self.assertTrue(mail["Subject"].startswith("A: hello"))

    def test_automatic_winner_needs_a_rule(self):
        with self.assertRaises(ValidationError) as caught:
            self.step.with_user(self.user_manager).ab_auto_winner = True
        self.assertIn("needs a number of hours or of recipients", str(caught.exception))

    def test_plain_user_reads_the_figures_and_changes_nothing(self):
        self._sent_traces(self.variant_a, 2, opened=1)
        variants = self.step.variant_ids.with_user(self.user_user)
        self.assertEqual(variants.mapped("sent_count"), [2, 0])
        self.assertEqual(variants.mapped("open_rate"), [50.0, 0.0])
        with self.assertRaises(AccessError):
            variants[0].share = 60
        with self.assertRaises(AccessError):
            self.env["email.automation.variant"].with_user(self.user_user).create(
                {"step_id": self.step.id, "name": "C", "share": 10}
            )
        with self.assertRaises(AccessError):
            self.step.variant_ids.with_user(self.user_salesman).read(["name"])
