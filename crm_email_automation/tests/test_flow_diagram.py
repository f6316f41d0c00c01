from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestFlowDiagramData(EmailAutomationCommon):
    """get_flow_data(): the numbers the flow diagram draws, from known traces."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Participant = cls.env["email.automation.participant"]
        cls.Trace = cls.env["email.automation.trace"]

    def _scenario_with_branches(self):
        scenario = self.create_scenario(
            steps=[
                {"name": "Welcome", "trigger_type": "begin"},
                {
                    "name": "Reminder",
                    "trigger_type": "after_parent",
                    "delay": 2,
                    "condition_domain": "[('email', '!=', False)]",
                },
                {
                    "name": "Call them",
                    "trigger_type": "after_parent",
                    "action_type": "activity",
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                },
            ],
            start=False,
        )
        welcome, reminder, call = scenario.step_ids.sorted("sequence")
        call.parent_id = welcome
        return scenario, welcome, reminder, call

    def _trace(self, participant, step, state, **values):
        now = fields.Datetime.now()
        if state == "sent":
            values = {"sent_at": now, "message_id": f"<{participant.id}.{step.id}@test>", **values}
        return self.Trace.create({"participant_id": participant.id, "step_id": step.id, "state": state, **values})

    def test_flow_data_counts_known_traces(self):
        scenario, welcome, reminder, call = self._scenario_with_branches()
        partners = self.env["res.partner"].create(
            [{"name": f"Flow {i}", "email": f"flow{i}@example.com"} for i in range(5)]
        )
        p1, p2, p3, p4, p5 = self.Participant.create(
            [{"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id} for partner in partners]
        )
        now = fields.Datetime.now()
        self._trace(p1, welcome, "sent", opened_at=now, clicked_at=now)
        self._trace(p2, welcome, "sent", opened_at=now)
        self._trace(p3, welcome, "sent")
        self._trace(p4, welcome, "scheduled")
        # A test e-mail to the test address is not the audience's: never counted.
        self._trace(p5, welcome, "sent", is_test=True, opened_at=now, clicked_at=now)
        self._trace(p1, reminder, "failed")
        self._trace(p2, reminder, "processing")
        self._trace(p3, reminder, "skipped")
        has_conversions = "conversion_step_id" in self.Participant._fields
        if has_conversions:
            (p1 | p2).write({"state": "converted", "converted_at": now, "conversion_step_id": welcome.id})

        data = scenario.with_user(self.user_manager).get_flow_data()

        self.assertEqual(data["scenario_id"], scenario.id)
        self.assertEqual(data["has_conversions"], has_conversions)
        nodes = {node["id"]: node for node in data["nodes"]}
        self.assertEqual([node["name"] for node in data["nodes"]], ["Welcome", "Reminder", "Call them"])
        self.assertEqual(nodes[welcome.id]["parent_id"], False)
        self.assertEqual(nodes[reminder.id]["parent_id"], welcome.id)
        self.assertEqual(nodes[call.id]["parent_id"], welcome.id)
        self.assertEqual(nodes[welcome.id]["trigger_type"], "begin")
        self.assertEqual(nodes[reminder.id]["trigger_type"], "after_parent")
        self.assertEqual((nodes[reminder.id]["delay"], nodes[reminder.id]["delay_unit"]), (2, "days"))
        self.assertEqual(nodes[reminder.id]["condition"], "[('email', '!=', False)]")
        self.assertFalse(nodes[welcome.id]["condition"], "An empty condition is no condition.")
        self.assertEqual(nodes[call.id]["action_type"], "activity")
        self.assertEqual(
            nodes[welcome.id]["counts"],
            {
                "waiting": 1,
                "sent": 3,
                "failed": 0,
                "opened": 2,
                "clicked": 1,
                "conversions": 2 if has_conversions else 0,
            },
        )
        self.assertEqual(
            nodes[reminder.id]["counts"],
            {"waiting": 1, "sent": 0, "failed": 1, "opened": 0, "clicked": 0, "conversions": 0},
        )
        self.assertEqual(
            nodes[call.id]["counts"],
            {"waiting": 0, "sent": 0, "failed": 0, "opened": 0, "clicked": 0, "conversions": 0},
        )

    def test_flow_data_queries_do_not_grow_with_steps(self):
        """A few grouped queries per scenario: thirty steps cost what three do."""
        small = self.create_scenario(steps=[{"name": f"Step {i}"} for i in range(3)], start=False)
        large = self.create_scenario(steps=[{"name": f"Step {i}"} for i in range(30)], start=False)
        partner = self.env["res.partner"].create({"name": "Flow queries", "email": "flowq@example.com"})
        for scenario in (small, large):
            participant = self.Participant.create({"scenario_id": scenario.id, "res_id": partner.id})
            for step in scenario.step_ids:
                self._trace(participant, step, "sent", opened_at=fields.Datetime.now())
        small.with_user(self.user_manager).get_flow_data()  # warm the access rights' caches
        counts = []
        for scenario in (small, large):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            data = scenario.with_user(self.user_manager).get_flow_data()
            counts.append(self.env.cr.sql_log_count - before)
            self.assertTrue(all(node["counts"]["sent"] == 1 for node in data["nodes"]))
        self.assertEqual(len(data["nodes"]), 30)
        self.assertLessEqual(counts[1], counts[0], "Thirty steps take no more queries than three.")
        self.assertLessEqual(counts[1], 10)

    def test_step_traces_action_is_filtered_on_the_step(self):
        scenario, _welcome, reminder, _call = self._scenario_with_branches()
        action = scenario.with_user(self.user_manager).action_view_step_traces(reminder.id)
        self.assertEqual(action["res_model"], "email.automation.trace")
        self.assertIn(("step_id", "=", reminder.id), action["domain"])
        other = self.create_scenario(start=False)
        with self.assertRaises(UserError):
            scenario.with_user(self.user_manager).action_view_step_traces(other.step_ids.id)

    def test_flow_data_needs_read_access(self):
        scenario = self.create_scenario(start=False)
        outsider = self.env["res.users"].create(
            {"name": "Outsider", "login": "flow_outsider", "groups_id": [(6, 0, [self.env.ref("base.group_user").id])]}
        )
        with self.assertRaises(AccessError):
            scenario.with_user(outsider).get_flow_data()
