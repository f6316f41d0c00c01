import json

from odoo.tests import tagged

from .test_policy import PolicyCommon


@tagged("post_install", "-at_install")
class TestPersonalData(PolicyCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_pl._email_consent_record(
            "granted", "form", wording=cls.wording, ip_address="198.51.100.4", user_agent="Firefox"
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.marketing_scenario(name="Spring newsletter")
        self.traces = self.send_now(self.scenario, self.partner_pl)
        self.assertSentTo("jan@example.pl", 1)

    def test_export_holds_ledger_participations_and_traces(self):
        action = self.partner_pl.with_user(self.user_manager).action_email_automation_export()
        self.assertEqual(action["type"], "ir.actions.act_url")
        _name, content = self.partner_pl.with_user(self.user_manager)._email_automation_export_file()
        data = json.loads(content)
        self.assertEqual(data["contact"]["email"], "jan@example.pl")
        self.assertEqual(data["contact"]["consent"]["state"], "granted")
        self.assertEqual(data["contact"]["consent"]["wording_version"], "test-1")
        (entry,) = data["consent_ledger"]
        self.assertEqual((entry["event"], entry["source"]), ("granted", "form"))
        self.assertEqual((entry["ip_address"], entry["user_agent"]), ("198.51.100.4", "Firefox"))
        self.assertIn("I agree to receive e-mails.", entry["wording_text"])
        (participation,) = data["participations"]
        self.assertEqual(participation["scenario"], "Spring newsletter")
        (trace,) = data["traces"]
        self.assertEqual((trace["state"], trace["email_to"]), ("sent", self.traces.email_to))
        self.assertEqual(trace["message_id"], self.traces.message_id)
        self.assertTrue(trace["sent_at"])
        self.assertIn("events", data)

    def test_export_and_erasure_are_for_managers(self):
        with self.assertRaises(Exception):  # noqa: B017 - AccessError, wrapped or not
            self.partner_pl.with_user(self.user_user).action_email_automation_export()
        with self.assertRaises(Exception):  # noqa: B017
            self.partner_pl.with_user(self.user_user).action_email_automation_erase()

    def test_erasure_leaves_nothing_personal_and_the_address_stays_suppressed(self):
        pending = self.marketing_scenario(name="Later", steps=[{"name": "Later", "trigger_type": "begin", "delay": 5}])
        pending._enrol(self.partner_pl.ids)
        logged = self.traces.mail_message_id
        self.assertTrue(logged)
        self.partner_pl._email_automation_unsubscribe("email_link")
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))

        self.partner_pl.with_user(self.user_manager).action_email_automation_erase()
        self.env.invalidate_all()

        traces = self.env["email.automation.trace"].search([("scenario_id", "in", (self.scenario | pending).ids)])
        self.assertEqual(len(traces), 2, "the counts for the statistics are kept")
        self.assertEqual(self.scenario.sent_count, 1)
        self.assertEqual(pending.participant_ids.trace_ids.state, "cancelled")
        self.assertFalse(logged.exists(), "the logged copy of the e-mail is gone")
        ledger = self.env["email.automation.consent"].search([("partner_id", "=", self.partner_pl.id)])
        self.assertEqual(ledger[0].event, "erased")
        suppression = self.env["email.automation.suppression"].search([])
        # Nothing of the module still holds the address, the name, the IP or the user agent.
        for model, records in (
            ("email.automation.trace", traces),
            ("email.automation.participant", traces.participant_id),
            ("email.automation.consent", ledger),
            ("email.automation.suppression", suppression),
        ):
            for record in records:
                for name, field in record._fields.items():
                    if field.store and field.type in ("char", "text", "html"):
                        value = str(record[name] or "")
                        for personal in ("jan@example.pl", "Jan Kowalski", "198.51.100.4", "Firefox"):
                            self.assertNotIn(personal, value, f"{model}.{name} of {record}")
        self.assertFalse(traces.partner_id)
        self.assertFalse(
            self.env["mail.blacklist"].with_context(active_test=False).search([("email", "=", "jan@example.pl")])
        )

        # The address stays suppressed, for transactional mail too, whoever it belongs to now.
        Suppression = self.env["email.automation.suppression"]
        self.assertEqual(Suppression._suppressed_emails(["jan@example.pl"]), {"jan@example.pl"})
        newcomer = self.env["res.partner"].create({"name": "Someone", "email": "jan@example.pl"})
        self.smtp.clear()
        trace = self.send_now(self.create_scenario(name="Order confirmation"), newcomer)
        self.assertEqual((trace.state, trace.reason), ("skipped", "suppressed"))
        self.assertFalse(self.smtp.messages)


@tagged("post_install", "-at_install")
class TestBounces(PolicyCommon):
    def bounce(self, message, status):
        """A delivery status notification (RFC 3464) for `message`, through Odoo's mail gateway."""
        recipient = message["To"].addresses[0].addr_spec
        original_id = message["Message-Id"]
        dsn = f"""From: MAILER-DAEMON@mx.example.com
To: sales@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn-{status}-{original_id.strip("<>")}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Action: failed
Status: {status}

--BOUNDARY
Content-Type: message/rfc822

Message-Id: {original_id}
To: {recipient}
Subject: original

original
--BOUNDARY--
"""
        self.env["mail.thread"].message_process(False, dsn.encode())

    def test_hard_bounce_suppresses_at_once(self):
        traces = self.send_now(self.create_scenario(), self.partner_en)
        (message,) = self.assertSentTo("john@example.com")
        self.bounce(message, "5.1.1")
        self.assertTrue(traces.bounced_at)
        suppression = self.env["email.automation.suppression"].search([("email", "=", "john@example.com")])
        self.assertEqual((suppression.is_suppressed, suppression.reason), (True, "hard_bounce"))
        trace = self.send_now(self.create_scenario(name="Again"), self.partner_en)
        self.assertEqual(trace.reason, "suppressed")

    def test_three_soft_bounces_in_a_row_suppress(self):
        Suppression = self.env["email.automation.suppression"]
        for round_number in range(3):
            self.smtp.clear()
            traces = self.send_now(self.create_scenario(name=f"Round {round_number}"), self.partner_en)
            self.assertEqual(traces.state, "sent", f"round {round_number}")
            (message,) = self.assertSentTo("john@example.com")
            self.bounce(message, "4.2.2")
        suppression = Suppression.search([("email", "=", "john@example.com")])
        self.assertEqual((suppression.is_suppressed, suppression.reason), (True, "soft_bounce"))
        self.assertEqual(suppression.soft_bounce_count, 3)
