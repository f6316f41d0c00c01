from lxml import etree

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestScenarioForm(EmailAutomationCommon):
    """What the scenario form shows and does, as the manager (not an administrator) uses it."""

    def field(self, model, name):
        return self.env["ir.model.fields"]._get(model, name)

    def as_manager(self, records):
        return records.with_user(self.user_manager)

    def create_scenario(self, model="res.partner", steps=None, start=True, **values):
        """The manager's own scenario: it runs with the manager's rights."""
        return super().create_scenario(model, steps=steps, start=start, user_id=self.user_manager.id, **values)

    # ------------------------------------------------------------------
    # Trigger value picked by name
    # ------------------------------------------------------------------

    def test_many2one_trigger_value_is_a_record_picked_by_name(self):
        qualified = self.env.ref("crm.stage_lead2")
        form = Form(self.env["email.automation.scenario"].with_user(self.user_manager))
        form.name = "Qualified leads"
        form.category = "transactional"
        form.model_id = self.env["ir.model"]._get("crm.lead")
        form.trigger = "on_value"
        form.trigger_field_id = self.field("crm.lead", "stage_id")
        form.trigger_value_ref = qualified.id
        with form.step_ids.new() as step:
            step.name = "Follow-up"
            step.mail_template_id = self.template_lead
        scenario = form.save()
        self.assertEqual(scenario.step_ids.mapped("name"), ["Follow-up"])
        self.assertEqual(scenario.flow_step_ids, scenario.step_ids, "the flow draws the steps of the list")
        self.assertEqual(scenario.trigger_value_ref, qualified.id)
        self.assertEqual(scenario._trigger_value_record(), qualified)
        # The picker shows the record's name, as Odoo's own "Stage is set to" does.
        self.assertEqual(self.env["email.automation.scenario"]._fields["trigger_value_ref"].type, "many2one_reference")
        scenario.action_start()

        lead, other = self.env["crm.lead"].create(
            [
                {"name": n, "partner_id": p.id, "type": "opportunity", "user_id": self.user_manager.id}
                for n, p in (("Big deal", self.partner_en), ("Small deal", self.partner_pl))
            ]
        )
        lead.stage_id = qualified
        other.stage_id = self.env.ref("crm.stage_lead3")
        self.run_queue()
        self.assertEqual(scenario.participant_ids.res_id, lead.id)
        self.assertSentTo("john@example.com")
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))

    def test_changing_the_trigger_field_clears_the_picked_value(self):
        form = Form(self.env["email.automation.scenario"].with_user(self.user_manager))
        form.name = "Leads"
        form.model_id = self.env["ir.model"]._get("crm.lead")
        form.trigger = "on_value"
        form.trigger_field_id = self.field("crm.lead", "stage_id")
        form.trigger_value_ref = self.env.ref("crm.stage_lead2").id
        form.trigger_field_id = self.field("crm.lead", "team_id")
        self.assertFalse(form.trigger_value_ref)

    def test_trigger_value_must_exist(self):
        with self.assertRaisesRegex(ValidationError, "Trigger Value"):
            self.create_scenario(
                "crm.lead",
                trigger="on_value",
                trigger_field_id=self.field("crm.lead", "stage_id").id,
                trigger_value_ref=999999999,
            )

    def test_demo_scenario_picks_the_qualified_stage_by_name(self):
        demo = self.env.ref("crm_email_automation.email_automation_scenario_demo_lead_qualified")
        self.assertEqual(demo._trigger_value_record(), self.env.ref("crm.stage_lead2"))

    # ------------------------------------------------------------------
    # Optional goal
    # ------------------------------------------------------------------

    def test_goal_is_optional_and_hidden_when_empty(self):
        scenario = self.as_manager(self.create_scenario(start=False))
        self.assertFalse(scenario.has_goal)
        arch = etree.fromstring(scenario.get_views([(False, "form")])["views"]["form"]["arch"])
        (goal,) = arch.xpath("//field[@name='goal_domain']")
        self.assertIn("not has_goal", goal.get("invisible"), "an empty goal shows no filter editor")

        scenario.goal_domain = "[('email', '!=', False)]"
        self.assertTrue(scenario.has_goal)
        form = Form(scenario)
        form.has_goal = False
        form.save()
        self.assertFalse(scenario.goal_domain, "unticking the goal removes it")

    def test_goal_ticked_without_condition_is_refused(self):
        scenario = self.as_manager(self.create_scenario(start=False))
        with self.assertRaisesRegex(ValidationError, "Goal"):
            scenario.has_goal = True

    # ------------------------------------------------------------------
    # Stat buttons open what they count
    # ------------------------------------------------------------------

    def _scenario_with_history(self):
        """A partner scenario with an e-mail step then an activity step, run for two
        contacts: one e-mail sent, one failed (no address), one activity created."""
        scenario = self.create_scenario(
            steps=[
                {"name": "Welcome", "trigger_type": "begin"},
                {
                    "name": "Call",
                    "trigger_type": "after_parent",
                    "action_type": "activity",
                    "mail_template_id": False,
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                },
            ]
        )
        scenario._enrol([self.partner_en.id, self.partner_pl.id])
        self.run_queue()
        self.run_queue()
        return scenario

    def _open(self, scenario, method, context):
        action = getattr(scenario.with_context(**context), method)()
        return self.env[action["res_model"]].search(action["domain"])

    def test_stat_buttons_open_what_they_count(self):
        scenario = self._scenario_with_history()
        Trace = self.env["email.automation.trace"]
        traces = Trace.search([("scenario_id", "=", scenario.id)])
        mails = traces.filtered(lambda t: t.step_id.action_type == "mail" and t.state == "sent")
        activities = traces.filtered(lambda t: t.step_id.action_type == "activity" and t.state == "sent")
        self.assertTrue(mails and activities)
        traces[:1].state = "failed"
        scenario.invalidate_recordset()
        manager_scenario = self.as_manager(scenario)

        arch = etree.fromstring(scenario.get_views([(False, "form")])["views"]["form"]["arch"])
        buttons = {
            button.xpath(".//field")[0].get("name"): button for button in arch.xpath("//div[@name='button_box']/button")
        }
        for field_name, button in buttons.items():
            self.assertIn("not id", button.get("invisible") or "", f"{field_name}: hidden on unsaved records")

        def opened(field_name):
            button = buttons[field_name]
            context = eval(button.get("context") or "{}")  # noqa: S307  # pylint: disable=eval-used
            return self._open(manager_scenario, button.get("name"), context)

        sent = opened("sent_count")
        self.assertEqual(sent, Trace.search([("scenario_id", "=", scenario.id), ("state", "=", "sent")]) & mails)
        self.assertEqual(len(sent), manager_scenario.sent_count, "Sent counts and opens the sent e-mails only")
        failed = opened("failed_count")
        self.assertEqual(failed, traces[:1])
        self.assertEqual(len(failed), manager_scenario.failed_count)
        self.assertEqual(opened("activity_done_count"), activities - traces[:1])
        self.assertEqual(opened("scheduled_count").mapped("state"), ["scheduled"] * manager_scenario.scheduled_count)

        participant = scenario.participant_ids[:1]
        participant.state = "converted"
        self.assertEqual(opened("converted_count"), participant)
        self.assertEqual(len(opened("participant_count")), len(scenario.participant_ids))

    def test_unknown_stat_filter_is_refused(self):
        scenario = self.as_manager(self.create_scenario(start=False))
        with self.assertRaises(UserError):
            scenario.with_context(trace_state="bogus").action_view_traces()
        with self.assertRaises(UserError):
            scenario.with_context(participant_state="bogus").action_view_participants()

    # ------------------------------------------------------------------
    # Technical names never show
    # ------------------------------------------------------------------

    def test_activity_user_is_picked_by_field_label(self):
        scenario = self.create_scenario("crm.lead", start=False)
        step = self.as_manager(scenario.step_ids)
        salesperson = self.field("crm.lead", "user_id")
        form = Form(step)
        form.action_type = "activity"
        form.activity_type_id = self.env.ref("mail.mail_activity_data_call")
        form.activity_user_field_id = salesperson
        form.save()
        self.assertEqual(step.activity_user_field, "user_id", "the queue still reads the field name")
        self.assertEqual(step.activity_user_field_id.with_context(hide_model=1).display_name, "Salesperson")
        # Only user fields of the scenario's model are offered.
        domain = eval(  # noqa: S307  # pylint: disable=eval-used
            step._fields["activity_user_field_id"].domain, {"model_name": "crm.lead"}
        )
        offered = self.env["ir.model.fields"].search(domain)
        self.assertIn(salesperson, offered)
        self.assertEqual(set(offered.mapped("relation")), {"res.users"})
        self.assertEqual(set(offered.mapped("model")), {"crm.lead"})

    def test_idle_trigger_says_what_counts_as_a_change(self):
        arch = self.env["email.automation.scenario"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("Last Updated on", arch)
        self.assertNotIn("without any change", arch)

    def test_activity_steps_are_not_counted_as_sent(self):
        scenario = self._scenario_with_history()
        self.assertEqual(scenario.sent_count, 2, "two e-mails sent")
        self.assertEqual(scenario.activity_done_count, 2, "two activities created, not 'sent'")
        traces = self.env["email.automation.trace"].search([("scenario_id", "=", scenario.id)])
        by_kind = {(t.step_id.action_type, t.display_state) for t in traces}
        self.assertEqual(by_kind, {("mail", "sent"), ("activity", "done")})
        labels = dict(traces._fields["display_state"]._description_selection(self.env))
        self.assertEqual(labels["done"], "Done")

    # ------------------------------------------------------------------
    # History is never deleted by a click
    # ------------------------------------------------------------------

    def test_deleting_a_step_with_history_is_refused(self):
        scenario = self._scenario_with_history()
        step = self.as_manager(scenario.step_ids.filtered(lambda s: s.action_type == "mail"))
        traces = step.sudo().trace_ids
        self.assertTrue(traces)
        with self.assertRaisesRegex(UserError, "Archive it instead"):
            step.unlink()
        # Removing the row in the scenario form is the same delete: refused as well.
        form = Form(self.as_manager(scenario))
        form.step_ids.remove(index=0)
        with self.assertRaisesRegex(UserError, "Archive it instead"):
            form.save()
        self.assertTrue(traces.exists(), "the history is still there")

    def test_deleting_a_step_without_history_is_allowed(self):
        scenario = self.create_scenario(start=False)
        step = self.as_manager(scenario.step_ids)
        step.unlink()
        self.assertFalse(scenario.step_ids)

    def test_archived_step_schedules_nothing_new(self):
        scenario = self.create_scenario(
            steps=[
                {"name": "Welcome", "trigger_type": "begin"},
                {"name": "Reminder", "trigger_type": "after_parent", "delay": 2},
            ]
        )
        welcome, reminder = scenario.step_ids.sorted("sequence")
        scenario._enrol([self.partner_en.id])
        self.run_queue()
        waiting = reminder.trace_ids.filtered(lambda t: t.state == "scheduled")
        self.assertTrue(waiting)
        self.as_manager(reminder).action_archive()
        self.assertEqual(waiting.state, "cancelled", "what the archived step still had to do is cancelled")
        self.assertEqual(scenario.participant_ids.state, "completed")
        self.assertEqual(scenario.archived_step_count, 1)
        self.as_manager(welcome).action_archive()
        scenario._enrol([self.partner_pl.id])
        new = scenario.participant_ids.filtered(lambda p: p.res_id == self.partner_pl.id)
        self.assertTrue(new)
        self.assertFalse(new.trace_ids, "archived steps are not scheduled for new participants")

    def test_running_or_paused_scenario_with_participants_is_not_deleted(self):
        scenario = self._scenario_with_history()
        manager_scenario = self.as_manager(scenario)
        with self.assertRaises(UserError):
            manager_scenario.unlink()
        scenario.action_pause()
        with self.assertRaisesRegex(UserError, "archive it instead"):
            manager_scenario.unlink()
        self.assertTrue(scenario.exists())
        self.assertTrue(scenario.participant_ids)

    def test_stopped_scenario_without_history_can_be_deleted(self):
        scenario = self.create_scenario()
        scenario.action_stop()
        scenario.unlink()
        self.assertFalse(scenario.exists())

    def test_unsaved_scenario_shows_no_action_buttons(self):
        arch = etree.fromstring(
            self.env["email.automation.scenario"].get_views([(False, "form")])["views"]["form"]["arch"]
        )
        for button in arch.xpath("//header/button"):
            self.assertIn("not id", button.get("invisible") or "", f"{button.get('name')} hidden before saving")

    def test_step_list_has_short_headers(self):
        arch = etree.fromstring(
            self.env["email.automation.scenario"].get_views([(False, "form")])["views"]["form"]["arch"]
        )
        (steps,) = arch.xpath("//field[@name='step_ids']/list")
        visible = [f for f in steps.xpath("./field") if f.get("optional") != "hide" and f.get("widget") != "handle"]
        self.assertLessEqual(len(visible), 10)
