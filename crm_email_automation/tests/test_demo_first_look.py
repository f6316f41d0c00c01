from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.tests import tagged

from .common import EmailAutomationCommon

DEMO_SCENARIOS = (
    "email_automation_scenario_demo_welcome",
    "email_automation_scenario_demo_lead_qualified",
    "email_automation_scenario_demo_order_confirmed",
    "email_automation_scenario_demo_order_cancelled",
    "email_automation_scenario_demo_idle_quotation",
)


@tagged("post_install", "-at_install")
class TestDemoFirstLook(EmailAutomationCommon):
    """What the demo data promises a newcomer, as installed: the customers of the demo leads
    and quotations agreed to marketing e-mail (with ledger entries citing the demo wording),
    and each running demo scenario sends e-mail when a newcomer does what it reacts to."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wording = cls.env.ref("crm_email_automation.email_automation_consent_wording_demo")
        # The demo scenarios, running as installed (the base class pauses them).
        cls.scenarios = cls.env["email.automation.scenario"].browse(
            [cls.env.ref(f"crm_email_automation.{xmlid}").id for xmlid in DEMO_SCENARIOS]
        )
        # Quiet hours hold marketing e-mail until 08:00 in the customer's time zone: the test
        # runs at any hour, so it turns them off; the consent policy stays the default opt-in.
        cls.env["ir.config_parameter"].set_param("crm_email_automation.quiet_hours", False)
        cls.env["ir.config_parameter"].set_param("crm_email_automation.consent_policy", "opt_in")

    def test_demo_customers_have_consent_proven_by_the_demo_wording(self):
        granted = self.env["res.partner"].search([("email_consent_state", "=", "granted")])
        self.assertGreaterEqual(len(granted), 10, "a believable share of the demo contacts")
        for partner in granted:
            entries = partner.email_consent_ids
            self.assertEqual(entries.mapped("event"), ["imported"], partner.name)
            self.assertEqual(entries.wording_id, self.wording, partner.name)
            self.assertEqual(entries.source, "import")
            self.assertEqual(partner.email_consent_wording_id, self.wording)
        # The customers of the demo leads and quotations the marketing scenarios follow.
        for xmlid in ("base.res_partner_2", "base.res_partner_4", "base.partner_demo_portal"):
            self.assertEqual(self.env.ref(xmlid).email_consent_state, "granted", xmlid)
        withdrawn = self.env.ref("base.res_partner_5")
        self.assertEqual(withdrawn.email_consent_state, "withdrawn")
        self.assertEqual(withdrawn.email_consent_ids.event, "withdrawn")

    def test_every_running_demo_scenario_sends_an_email(self):
        self.assertEqual(set(self.scenarios.mapped("state")), {"paused"}, "installed running, paused by the base")
        self.scenarios.write({"state": "running"})
        # The demo's past results are there already: only what this test starts counts.
        past = self.scenarios.participant_ids
        idle = self.env.ref("crm_email_automation.email_automation_scenario_demo_idle_quotation")
        idle.time_checked_at = fields.Datetime.now()
        deco_addict = self.env.ref("base.res_partner_2")
        ready_mat = self.env.ref("base.res_partner_4")
        quotations = self.env["sale.order"].search(
            [("partner_id", "in", (deco_addict | ready_mat).ids), ("state", "=", "draft")], order="id"
        )
        self.assertGreaterEqual(len(quotations), 3, "demo quotations of both customers")
        # Last touched now, as in a database just installed.
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE sale_order SET write_date = %s WHERE id = ANY(%s)", [fields.Datetime.now(), quotations.ids]
        )
        quotations.invalidate_recordset(["write_date"])

        # What a newcomer does: creates a contact, qualifies a lead, confirms a quotation,
        # cancels another.
        self.env["res.partner"].create({"name": "Anna Nowak", "email": "anna.nowak@example.com"})
        lead = self.env["crm.lead"].search(
            [("partner_id", "=", deco_addict.id), ("stage_id", "=", self.env.ref("crm.stage_lead1").id)], limit=1
        )
        self.assertTrue(lead, "a demo opportunity of Deco Addict waits in the New stage")
        lead.stage_id = self.env.ref("crm.stage_lead2")
        confirmed = quotations.filtered(lambda o: o.partner_id == deco_addict)[0]
        cancelled = quotations.filtered(lambda o: o.partner_id == ready_mat)[0]
        confirmed.action_confirm()
        cancelled._action_cancel()
        self.run_queue()

        self.assertSentTo("anna.nowak@example.com")
        deco_addict_mail = self.smtp.messages_to(deco_addict.email_normalized)
        self.assertEqual(len(deco_addict_mail), 2, "the follow-up of the qualified lead and the order confirmation")
        self.assertTrue(any(confirmed.name in message["Subject"] for message in deco_addict_mail))
        self.assertTrue(
            any(cancelled.name in message["Subject"] for message in self.smtp.messages_to(ready_mat.email_normalized))
        )

        # The quotations still open stay untouched for 48 hours: the first reminders go.
        with freeze_time(fields.Datetime.now() + timedelta(hours=49)):
            self.run_queue()
        for scenario in self.scenarios:
            new = scenario.participant_ids - past
            sent = new.trace_ids.filtered(lambda t: t.state == "sent" and t.step_id.action_type == "mail")
            self.assertTrue(sent, f"the demo scenario “{scenario.name}” sent no e-mail")
            self.assertFalse(scenario.participant_ids.trace_ids.filtered(lambda t: t.state == "failed"), scenario.name)
