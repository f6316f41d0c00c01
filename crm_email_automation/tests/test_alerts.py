"""Alerts to the automation managers (issue 11, section 4): each incident opens once (note
in the chatter, e-mail, activity) and its recovery closes it with a notice; the bounce and
complaint rates pause the provider's marketing scenarios with the reason.

Bounces and complaints arrive as in production, through the provider's webhook over HTTP."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .webhook_common import WebhookCommon


@tagged("post_install", "-at_install")
class TestAlerts(WebhookCommon):
    def setUp(self):
        super().setUp()
        # Alerts speak the company's language; these tests read the English texts (the
        # demo company may be Polish: test_the_alert_speaks_the_companys_language).
        self.env.company.partner_id.lang = "en_US"
        self.Alert = self.env["email.automation.alert"]
        self.marketing = self.create_scenario(name="Promotions", category="marketing", provider_id=self.brevo.id)
        self.transactional = self.create_scenario(
            name="Order confirmations", category="transactional", provider_id=self.brevo.id
        )
        self.batch = 0

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def sent_batch(self, scenario, count, provider=None, state="sent"):
        """`count` e-mails of `scenario` sent (or failed) just now, through `provider`."""
        self.batch += 1
        partners = self.env["res.partner"].create(
            [{"name": f"Reader {self.batch}-{i}", "email": f"reader{self.batch}-{i}@example.com"} for i in range(count)]
        )
        participants = self.env["email.automation.participant"].create(
            [{"scenario_id": scenario.id, "res_id": p.id, "partner_id": p.id, "state": "completed"} for p in partners]
        )
        now = fields.Datetime.now()
        sent = state == "sent"
        return self.env["email.automation.trace"].create(
            [
                {
                    "participant_id": participant.id,
                    "step_id": scenario.step_ids[0].id,
                    "state": state,
                    "sent_at": now if sent else False,
                    "processed_at": now,
                    "email_to": participant.partner_id.email,
                    "provider_id": (provider or self.brevo).id if sent else False,
                    "provider_message_id": f"<b{self.batch}-{index}@smtp-relay.mailin.fr>" if sent else False,
                }
                for index, participant in enumerate(participants)
            ]
        )

    def report(self, event, traces):
        """Brevo reports `event` for each of `traces`, in one batched webhook."""
        response = self.post_brevo([self.brevo_event(event, trace, ts=1763629200 + trace.id) for trace in traces])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.recorded["recorded"], len(traces))

    def manager_mails(self):
        """The e-mails that reached the manager's mailbox (Odoo's notifications)."""
        return [m for m in self.smtp.all_messages if "manager@example.com" in str(m["To"])]

    def open_alerts(self, kind):
        return self.Alert.search([("kind", "=", kind), ("state", "=", "open")])

    def notes(self, record, text):
        """The notes on `record` that told the E-mail Automation manager, containing `text`."""
        return record.message_ids.filtered(lambda m: self.user_manager.partner_id in m.partner_ids and text in m.body)

    def assertAlertedOnce(self, record, kind_label):
        notes = self.notes(record, "E-mail automation alert")
        self.assertEqual(len(notes), 1, notes.mapped("body"))
        self.assertEqual(notes.subtype_id, self.env.ref("mail.mt_note"))
        self.assertIn(kind_label, notes.body)
        activities = record.activity_ids.filtered(lambda a: a.user_id == self.user_manager)
        self.assertEqual(len(activities), 1)
        self.assertIn(kind_label, activities.summary)
        mails = [m for m in self.manager_mails() if kind_label in m["Subject"]]
        self.assertEqual(len(mails), 1, "one e-mail to the manager")
        return notes

    def assertRecovered(self, alert, record):
        self.assertEqual(alert.state, "resolved")
        self.assertTrue(alert.resolved_at)
        self.assertEqual(len(self.notes(record, "E-mail automation recovered")), 1)
        self.assertFalse(record.activity_ids.filtered(lambda a: a.user_id == self.user_manager))
        self.assertTrue(
            [m for m in self.manager_mails() if "recovered" in m["Subject"]],
            "the recovery notice is e-mailed too",
        )

    # ------------------------------------------------------------------
    # Bounce and complaint rates
    # ------------------------------------------------------------------

    def test_bounce_rate_over_2_percent_pauses_the_providers_marketing_scenarios(self):
        # 100 e-mails through Brevo (the 2 of the setup and 98), the minimum judged.
        traces = self.sent_batch(self.marketing, 98)
        self.report("hard_bounce", traces[:2])
        self.report("soft_bounce", traces[2:6])
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("bounce_rate"), "2% is the limit, not over it; soft bounces do not count")

        self.report("hard_bounce", traces[10:11])
        opened, _resolved = self.Alert._evaluate()
        self.assertEqual(opened.kind, "bounce_rate")
        self.assertEqual((opened.provider_id, opened.value, opened.sample_size), (self.brevo, 3.0, 100))
        self.assertEqual(self.marketing.state, "paused")
        self.assertIn("3.00% of the last 100 e-mails sent through “Brevo” bounced", self.marketing.pause_reason)
        self.assertIn("Paused by an alert", self.marketing.message_ids[0].body)
        self.assertEqual(self.transactional.state, "running", "transactional e-mail goes on")
        self.assertEqual(self.scenario.state, "running", "a scenario of another provider goes on")
        self.assertEqual(opened.paused_scenario_ids, self.marketing)
        notes = self.assertAlertedOnce(self.brevo, "Bounce rate")
        self.assertIn("Promotions", notes.body)

        # Evaluated again (the cron every 5 minutes): the same incident, told once.
        self.assertEqual(self.Alert._evaluate(), (self.Alert, self.Alert))
        self.assertEqual(len(self.open_alerts("bounce_rate")), 1)
        self.assertAlertedOnce(self.brevo, "Bounce rate")

        # Clean sends bring the rate under 2%: recovery; the scenario waits for a person.
        self.sent_batch(self.transactional, 100)
        _opened, resolved = self.Alert._evaluate()
        self.assertEqual(resolved, opened)
        self.assertRecovered(opened, self.brevo)
        self.assertAlmostEqual(opened.last_value, 1.5)
        self.assertEqual(self.marketing.state, "paused")
        self.marketing.with_user(self.user_manager).action_start()
        self.assertFalse(self.marketing.pause_reason)

    def test_complaint_rate_over_0_3_percent_pauses_marketing_with_the_reason(self):
        traces = self.sent_batch(self.marketing, 398)
        self.report("spam", traces[:1])
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("complaint_rate"), "1 in 400 is 0.25%")
        self.report("spam", traces[1:2])
        opened, _resolved = self.Alert._evaluate()
        self.assertEqual((opened.kind, opened.value, opened.sample_size), ("complaint_rate", 0.5, 400))
        self.assertEqual(self.marketing.state, "paused")
        self.assertIn("were reported as spam", self.marketing.pause_reason)
        self.assertEqual(self.transactional.state, "running")
        self.assertAlertedOnce(self.brevo, "Complaint rate")

    def test_a_provider_with_few_sends_is_not_judged(self):
        traces = self.sent_batch(self.marketing, 20)
        self.report("hard_bounce", traces[:5])
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("bounce_rate"))
        self.assertEqual(self.marketing.state, "running")

    # ------------------------------------------------------------------
    # Queue lag, failure rate, provider paused
    # ------------------------------------------------------------------

    def test_queue_lag_alert_opens_once_and_recovers_when_the_queue_runs(self):
        late = self.create_scenario(name="Welcome")
        late._enrol(self.partner_en.ids)
        trace = late.participant_ids.trace_ids
        trace.scheduled_at = fields.Datetime.now() - timedelta(minutes=20)
        opened, _resolved = self.Alert._evaluate()
        self.assertEqual((opened.kind, opened.scenario_id, opened.threshold), ("queue_lag", late, 15))
        self.assertGreaterEqual(opened.value, 20)
        self.assertAlertedOnce(late, "Queue lag")
        self.Alert._evaluate()
        self.assertAlertedOnce(late, "Queue lag")

        self.run_queue()
        self.assertEqual(trace.state, "sent")
        _opened, resolved = self.Alert._evaluate()
        self.assertEqual(resolved, opened)
        self.assertRecovered(opened, late)

    def test_a_paused_scenarios_waiting_mail_is_no_lag(self):
        late = self.create_scenario(name="Welcome")
        late._enrol(self.partner_en.ids)
        late.participant_ids.trace_ids.scheduled_at = fields.Datetime.now() - timedelta(hours=2)
        late.action_pause()
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("queue_lag"))

    def test_failure_rate_alert_on_the_scenario(self):
        self.sent_batch(self.transactional, 10, state="failed")
        opened, _resolved = self.Alert._evaluate()
        failure = opened.filtered(lambda a: a.kind == "failure_rate")
        self.assertEqual((failure.scenario_id, failure.value, failure.sample_size), (self.transactional, 100.0, 10))
        self.assertAlertedOnce(self.transactional, "Failure rate")
        self.assertEqual(self.transactional.state, "running", "failures alert, they pause nothing")
        # 10 failed out of 110: 9.09%, under 10%.
        self.sent_batch(self.transactional, 100)
        _opened, resolved = self.Alert._evaluate()
        self.assertEqual(resolved, failure)
        self.assertRecovered(failure, self.transactional)

    def test_a_provider_paused_by_a_manager_alerts_at_once_and_resuming_recovers(self):
        self.brevo.with_user(self.user_manager).action_pause()
        [alert] = self.open_alerts("provider_paused")
        self.assertEqual(alert.provider_id, self.brevo)
        notes = self.assertAlertedOnce(self.brevo, "Provider paused")
        self.assertIn(self.user_manager.name, notes.body, "the pause reason says who")
        self.Alert._evaluate()
        self.assertEqual(len(self.open_alerts("provider_paused")), 1)
        self.assertAlertedOnce(self.brevo, "Provider paused")

        self.brevo.with_user(self.user_manager).action_resume()
        self.assertRecovered(alert, self.brevo)
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("provider_paused"))

    def test_the_alert_speaks_the_companys_language(self):
        self.env["res.lang"]._activate_lang("pl_PL")
        self.env.company.partner_id.lang = "pl_PL"
        self.brevo.with_user(self.user_manager).action_pause()
        [note] = self.notes(self.brevo, "Dostawca wstrzymany")
        self.assertIn("został wstrzymany: jego wiadomości czekają w kolejce", note.body)

    def test_one_open_alert_per_incident_is_a_database_constraint(self):
        self.brevo.action_pause()
        [alert] = self.open_alerts("provider_paused")
        self.assertFalse(
            self.Alert._open(alert.incident_key, self.Alert._finding("provider_paused", 1, 0), fields.Datetime.now())
        )
        self.assertEqual(len(self.open_alerts("provider_paused")), 1)

    def test_a_threshold_of_zero_turns_the_alert_off(self):
        self.env["res.config.settings"].create({"email_automation_alert_failure_rate": 0}).execute()
        self.assertEqual(self.env["ir.config_parameter"].get_param("crm_email_automation.alert_failure_rate"), "0")
        self.sent_batch(self.transactional, 10, state="failed")
        self.Alert._evaluate()
        self.assertFalse(self.open_alerts("failure_rate"))

    # ------------------------------------------------------------------
    # The manager, in the web client
    # ------------------------------------------------------------------

    def test_the_manager_lists_and_acknowledges_alerts_over_rpc(self):
        self.brevo.action_pause()
        [alert] = self.open_alerts("provider_paused")
        self.env.flush_all()
        self.authenticate("ea_manager", "ea_manager")
        action = self.make_jsonrpc_request(
            "/web/action/load", {"action_id": "crm_email_automation.email_automation_alert_action"}
        )
        self.assertEqual(action["res_model"], "email.automation.alert")
        listed = self.make_jsonrpc_request(
            "/web/dataset/call_kw/email.automation.alert/web_search_read",
            {
                "model": "email.automation.alert",
                "method": "web_search_read",
                "args": [[("state", "=", "open")]],
                "kwargs": {"specification": {"display_name": {}, "kind": {}, "state": {}}},
            },
        )
        self.assertIn(
            {"id": alert.id, "display_name": "Provider paused: Brevo", "kind": "provider_paused", "state": "open"},
            listed["records"],
        )
        result = self.make_jsonrpc_request(
            "/web/dataset/call_button",
            {"model": "email.automation.alert", "method": "action_acknowledge", "args": [alert.ids], "kwargs": {}},
        )
        self.assertFalse(result, "no action to open: the web client stays on the alert")
        alert.invalidate_recordset()
        self.assertEqual(alert.acknowledged_by_id, self.user_manager)
        self.assertFalse(self.brevo.activity_ids.filtered(lambda a: a.user_id == self.user_manager))
        self.assertEqual(alert.state, "open", "acknowledged is not resolved")
        # Managers read and acknowledge; they do not rewrite alerts. Users do not see them.
        with self.assertRaises(AccessError):
            alert.with_user(self.user_manager).write({"state": "resolved"})
        with self.assertRaises(AccessError):
            alert.with_user(self.user_user).read(["kind"])
