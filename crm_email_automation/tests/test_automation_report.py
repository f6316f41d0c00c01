from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestAutomationReport(EmailAutomationCommon):
    """The managers' dashboard: per-scenario figures from known e-mails and conversions."""

    def test_dashboard_figures_per_scenario(self):
        scenario = self.create_scenario(start=False, user_id=self.user_manager.id)
        step = scenario.step_ids
        partners = self.env["res.partner"].create(
            [{"name": f"Report {i}", "email": f"report{i}@example.com"} for i in range(6)]
        )
        participants = self.env["email.automation.participant"].create(
            [{"scenario_id": scenario.id, "res_id": p.id, "partner_id": p.id} for p in partners]
        )
        now = fields.Datetime.now()
        columns = [
            {"delivered_at": now, "opened_at": now, "clicked_at": now},
            {"delivered_at": now, "opened_at": now},
            {"delivered_at": now},
            {"bounced_at": now},
            {},  # waiting: not sent, not counted
            {"is_test": True, "delivered_at": now, "opened_at": now},  # test e-mail: not counted
        ]
        traces = self.env["email.automation.trace"].create(
            [
                {
                    "participant_id": participant.id,
                    "step_id": step.id,
                    "state": "scheduled" if not values else "sent",
                    **({"sent_at": now, "message_id": f"<report-{participant.id}@x>"} if values else {}),
                    **values,
                }
                for participant, values in zip(participants, columns, strict=True)
            ]
        )
        self.env["email.automation.event"].create(
            {
                "trace_id": traces[2].id,
                "event_type": "unsubscribe",
                "occurred_at": now,
                "dedupe_key": "report-unsubscribe",
            }
        )
        participants[0].write({"state": "converted", "converted_at": now})
        participants[1].write({"state": "converted", "converted_at": now, "is_holdout": True})
        # An e-mail of last month is outside this month's figures.
        other = self.create_scenario(start=False)
        old = self.env["email.automation.trace"].create(
            {
                "participant_id": self.env["email.automation.participant"]
                .create({"scenario_id": other.id, "res_id": partners[0].id})
                .id,
                "step_id": other.step_ids.id,
                "state": "sent",
                "sent_at": now - timedelta(days=62),
                "message_id": "<report-old@x>",
            }
        )
        Report = self.env["email.automation.report"].with_user(self.user_manager)
        measures = [
            "sent_count:sum",
            "delivered_count:sum",
            "open_rate:avg",
            "click_rate:avg",
            "unsubscribe_rate:avg",
            "bounce_rate:avg",
            "conversion_count:sum",
            "revenue:sum",
        ]
        ((sent, delivered, open_rate, click_rate, unsub_rate, bounce_rate, conversions, revenue),) = Report._read_group(
            [("scenario_id", "=", scenario.id)], [], measures
        )
        self.assertEqual((sent, delivered, conversions), (4, 3, 1))
        self.assertAlmostEqual(open_rate, 50.0)
        self.assertAlmostEqual(click_rate, 25.0)
        self.assertAlmostEqual(unsub_rate, 25.0)
        self.assertAlmostEqual(bounce_rate, 25.0)
        self.assertEqual(revenue, 0.0)
        self.assertEqual(Report.search_count([("scenario_id", "=", old.scenario_id.id)]), 1)
        self.assertEqual(
            Report.search_count([("scenario_id", "=", old.scenario_id.id), ("date", ">=", now - timedelta(days=31))]),
            0,
            "The period filter leaves an e-mail of two months ago out.",
        )

    def test_dashboard_is_for_managers(self):
        with self.assertRaises(AccessError):
            self.env["email.automation.report"].with_user(self.user_user).search([])
