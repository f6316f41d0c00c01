import contextlib
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import EmailAutomationCommon, body_text

# A Wednesday, 10:00 UTC (11:00 or 12:00 in Warsaw): inside the default send window.
WEDNESDAY_MORNING = datetime(2026, 6, 10, 10, 0)


class PolicyCommon(EmailAutomationCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.env["ir.config_parameter"]
        cls.config.set_param("crm_email_automation.quiet_hours", True)
        cls.config.set_param("crm_email_automation.frequency_cap_count", 3)
        cls.config.set_param("crm_email_automation.frequency_cap_days", 7)
        (cls.partner_pl | cls.partner_en).write({"tz": "Europe/Warsaw"})
        cls.wording = cls.env["email.automation.consent.wording"].create(
            {"name": "Newsletter consent", "version": "test-1", "text": "<p>I agree to receive e-mails.</p>"}
        )

    def grant(self, partners):
        partners._email_consent_record("granted", "user", wording=self.wording, reason="test")

    def marketing_scenario(self, **values):
        return self.create_scenario(category="marketing", **values)

    def send_now(self, scenario, partners, when=WEDNESDAY_MORNING):
        with freeze_time(when):
            scenario._enrol(partners.ids)
            self.run_queue()
        return scenario.participant_ids.trace_ids

    def history(self, partner, sent_ats, category="marketing"):
        """Past e-mails sent to `partner` by another scenario."""
        scenario = self.create_scenario(category=category, name=f"History {category}")
        traces = self.env["email.automation.trace"]
        for index, sent_at in enumerate(sent_ats):
            participant = self.env["email.automation.participant"].create(
                {"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id, "state": "completed"}
            )
            traces |= self.env["email.automation.trace"].create(
                {
                    "participant_id": participant.id,
                    "step_id": scenario.step_ids[0].id,
                    "state": "sent",
                    "scheduled_at": sent_at,
                    "sent_at": sent_at,
                    "processed_at": sent_at,
                    "message_id": f"<history-{partner.id}-{index}@example.com>",
                }
            )
        return traces


@tagged("post_install", "-at_install")
class TestConsentPolicy(PolicyCommon):
    def test_marketing_goes_only_to_granted_consent(self):
        self.grant(self.partner_en)
        traces = self.send_now(self.marketing_scenario(), self.partner_en | self.partner_pl)
        self.assertSentTo("john@example.com", 1)
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        skipped = traces.filtered(lambda t: t.partner_id == self.partner_pl)
        self.assertEqual((skipped.state, skipped.reason), ("skipped", "no_consent"))

    def test_withdrawn_consent_is_skipped_even_under_opt_out(self):
        self.config.set_param("crm_email_automation.consent_policy", "opt_out")
        self.partner_pl._email_consent_record("withdrawn", "user", reason="asked by phone")
        traces = self.send_now(self.marketing_scenario(), self.partner_en | self.partner_pl)
        self.assertSentTo("john@example.com", 1)
        self.assertEqual(traces.filtered(lambda t: t.partner_id == self.partner_pl).reason, "consent_withdrawn")

    def test_transactional_mail_ignores_consent_but_not_suppression(self):
        self.env["email.automation.suppression"]._register_bounce(["jan@example.pl"], hard=True)
        traces = self.send_now(self.create_scenario(), self.partner_en | self.partner_pl)
        self.assertSentTo("john@example.com", 1)
        self.assertFalse(self.smtp.messages_to("jan@example.pl"))
        self.assertEqual(traces.filtered(lambda t: t.partner_id == self.partner_pl).reason, "suppressed")

    def test_blacklisted_address_gets_no_marketing_but_transactional(self):
        self.grant(self.partner_en)
        self.env["mail.blacklist"]._add("john@example.com")
        traces = self.send_now(self.marketing_scenario(), self.partner_en)
        self.assertEqual((traces.state, traces.reason), ("skipped", "blacklisted"))
        self.send_now(self.create_scenario(name="Order confirmation"), self.partner_en)
        self.assertSentTo("john@example.com", 1)

    def test_soft_bounces_suppress_after_three_in_a_row_and_delivery_resets(self):
        Suppression = self.env["email.automation.suppression"]
        Suppression._register_bounce(["john@example.com"], hard=False)
        Suppression._register_bounce(["john@example.com"], hard=False)
        Suppression._register_delivery(["john@example.com"])
        Suppression._register_bounce(["john@example.com"], hard=False)
        Suppression._register_bounce(["john@example.com"], hard=False)
        self.assertFalse(Suppression._suppressed_emails(["john@example.com"]))
        Suppression._register_bounce(["john@example.com"], hard=False)
        self.assertEqual(Suppression._suppressed_emails(["john@example.com"]), {"john@example.com"})

    def test_consent_ledger_is_append_only(self):
        self.grant(self.partner_en)
        entry = self.partner_en.email_consent_ids
        self.assertEqual(entry.event, "granted")
        self.assertEqual(entry.wording_id, self.wording)
        self.assertEqual(entry.email, "john@example.com")
        with self.assertRaises(UserError):
            entry.sudo().write({"event": "withdrawn"})
        with self.assertRaises(UserError):
            entry.sudo().unlink()
        with self.assertRaises(AccessError):
            self.env["email.automation.consent"].with_user(self.user_manager).create(
                {"partner_id": self.partner_pl.id, "event": "granted", "source": "user"}
            )

    def test_only_managers_change_consent_and_with_a_reason(self):
        with self.assertRaises(AccessError):
            self.partner_pl.with_user(self.user_user).write({"email_consent_state": "granted"})
        wizard = (
            self.env["email.automation.consent.wizard"]
            .with_user(self.user_manager)
            .create(
                {
                    "partner_ids": [Command.set(self.partner_pl.ids)],
                    "new_state": "granted",
                    "wording_id": self.wording.id,
                    "reason": "Signed paper form",
                }
            )
        )
        wizard.action_apply()
        self.assertEqual(self.partner_pl.email_consent_state, "granted")
        entry = self.partner_pl.email_consent_ids
        self.assertEqual((entry.reason, entry.user_id, entry.source), ("Signed paper form", self.user_manager, "user"))

    def test_lead_consent_is_handed_to_the_partner_on_conversion(self):
        lead = self.env["crm.lead"].create(
            {
                "name": "Website enquiry",
                "contact_name": "Anna Nowak",
                "email_from": "anna@example.pl",
                "email_consent_state": "granted",
                "email_consent_source": "form",
                "email_consent_wording_id": self.wording.id,
                "email_consent_ip": "203.0.113.7",
            }
        )
        lead._handle_partner_assignment(create_missing=True)
        partner = lead.partner_id
        self.assertEqual(partner.email_consent_state, "granted")
        entry = partner.email_consent_ids
        self.assertEqual((entry.source, entry.wording_id, entry.ip_address), ("form", self.wording, "203.0.113.7"))


@tagged("post_install", "-at_install")
class TestConsentUi(PolicyCommon):
    def test_partner_form_shows_consent_to_every_user_and_the_ledger_to_automation_users(self):
        for user in (self.user_salesman, self.user_user, self.user_manager):
            Partner = self.env["res.partner"].with_user(user)
            arch = Partner.get_views([(False, "form")])["views"]["form"]["arch"]
            self.assertIn('name="email_consent_state"', arch)
            self.assertEqual('name="email_consent_ids"' in arch, user != self.user_salesman)
            self.assertEqual('name="action_email_automation_erase"' in arch, user == self.user_manager)
            self.assertEqual(Partner.browse(self.partner_pl.id).email_consent_state, "unknown")

    def test_settings_round_trip(self):
        settings = self.env["res.config.settings"].create(
            {
                "email_automation_consent_policy": "opt_out",
                "email_automation_frequency_cap_count": 2,
                "email_automation_quiet_hours": True,
                "email_automation_send_window_start": 9.5,
                "email_automation_send_window_end": 18.0,
                "email_automation_send_day_5": False,
                "email_automation_send_day_6": False,
                "email_automation_rate_limit_minute": 60,
            }
        )
        settings.execute()
        policy = self.env["email.automation.policy"]._settings()
        self.assertEqual(policy["consent_policy"], "opt_out")
        self.assertEqual((policy["cap_count"], policy["rate_minute"]), (2, 60))
        self.assertEqual((policy["window_start"], policy["window_end"]), (9.5, 18.0))
        self.assertEqual(policy["send_days"], {0, 1, 2, 3, 4})
        values = self.env["res.config.settings"].create({})
        self.assertFalse(values.email_automation_send_day_6)
        self.assertTrue(values.email_automation_send_day_0)


@tagged("post_install", "-at_install")
class TestFrequencyCap(PolicyCommon):
    def test_cap_defers_the_fourth_marketing_mail_until_the_cap_frees(self):
        self.grant(self.partner_en)
        past = [WEDNESDAY_MORNING - timedelta(days=days) for days in (6, 4, 1)]
        self.history(self.partner_en, past)
        self.history(self.partner_en, [WEDNESDAY_MORNING - timedelta(hours=1)] * 2, category="transactional")
        traces = self.send_now(self.marketing_scenario(), self.partner_en)
        self.assertFalse(self.smtp.messages)
        self.assertEqual((traces.state, traces.reason), ("scheduled", "frequency_cap"))
        self.assertEqual(traces.attempt_count, 0, "a deferral is not a delivery attempt")
        frees_at = past[0] + timedelta(days=7)
        self.assertTrue(frees_at < traces.scheduled_at <= frees_at + timedelta(minutes=1))
        with freeze_time(traces.scheduled_at):
            self.run_queue()
        self.assertSentTo("john@example.com", 1)

    def test_cap_skips_when_the_scenario_says_so(self):
        self.grant(self.partner_en)
        self.history(self.partner_en, [WEDNESDAY_MORNING - timedelta(days=1)] * 3)
        traces = self.send_now(self.marketing_scenario(frequency_cap_action="skip"), self.partner_en)
        self.assertEqual((traces.state, traces.reason), ("skipped", "frequency_cap"))

    def test_scenario_and_partner_overrides(self):
        self.grant(self.partner_en | self.partner_pl)
        self.history(self.partner_en, [WEDNESDAY_MORNING - timedelta(days=1)] * 3)
        self.history(self.partner_pl, [WEDNESDAY_MORNING - timedelta(days=1)])
        self.partner_pl.email_automation_cap_count = 1
        scenario = self.marketing_scenario(frequency_cap_mode="custom", frequency_cap_count=5, frequency_cap_days=7)
        traces = self.send_now(scenario, self.partner_en | self.partner_pl)
        self.assertSentTo("john@example.com", 1)
        self.assertEqual(traces.filtered(lambda t: t.partner_id == self.partner_pl).reason, "frequency_cap")

    def test_uncapped_and_capped_scenarios_in_one_batch(self):
        self.grant(self.partner_en | self.partner_pl)
        self.history(self.partner_en, [WEDNESDAY_MORNING - timedelta(days=1)] * 3)
        self.history(self.partner_pl, [WEDNESDAY_MORNING - timedelta(days=1)] * 3)
        uncapped = self.marketing_scenario(name="Uncapped", frequency_cap_mode="none")
        capped = self.marketing_scenario(name="Capped")
        with freeze_time(WEDNESDAY_MORNING):
            uncapped._enrol(self.partner_en.ids)
            capped._enrol(self.partner_pl.ids)
            self.run_queue()
        self.assertSentTo("john@example.com", 1)
        self.assertEqual(capped.participant_ids.trace_ids.reason, "frequency_cap")

    def test_transactional_mail_is_never_capped(self):
        self.history(self.partner_en, [WEDNESDAY_MORNING - timedelta(days=1)] * 5)
        self.send_now(self.create_scenario(), self.partner_en)
        self.assertSentTo("john@example.com", 1)


@tagged("post_install", "-at_install")
class TestQuietHoursAndRate(PolicyCommon):
    def test_marketing_waits_for_the_window_in_the_recipients_time_zone(self):
        self.grant(self.partner_en | self.partner_pl)
        self.partner_en.tz = "America/New_York"
        # 06:30 UTC: 08:30 in Warsaw (inside), 02:30 in New York (outside).
        traces = self.send_now(
            self.marketing_scenario(), self.partner_en | self.partner_pl, datetime(2026, 6, 10, 6, 30)
        )
        self.assertSentTo("jan@example.pl", 1)
        waiting = traces.filtered(lambda t: t.partner_id == self.partner_en)
        self.assertEqual((waiting.state, waiting.reason), ("scheduled", "quiet_hours"))
        self.assertEqual(waiting.scheduled_at, datetime(2026, 6, 10, 12, 0), "08:00 in New York (EDT, UTC-4)")

    def test_transactional_mail_ignores_quiet_hours(self):
        self.send_now(self.create_scenario(), self.partner_en, datetime(2026, 6, 10, 1, 0))
        self.assertSentTo("john@example.com", 1)

    def test_window_respects_the_chosen_weekdays(self):
        self.grant(self.partner_en)
        self.config.set_param("crm_email_automation.send_days", "01234")  # Monday to Friday
        saturday_noon = datetime(2026, 6, 13, 10, 0)
        traces = self.send_now(self.marketing_scenario(), self.partner_en, saturday_noon)
        self.assertEqual(traces.reason, "quiet_hours")
        self.assertEqual(traces.scheduled_at, datetime(2026, 6, 15, 6, 0), "Monday 08:00 in Warsaw")

    def _dst_night(self, due_utc, window_start, expected_utc):
        self.grant(self.partner_pl)
        self.config.set_param("crm_email_automation.send_window_start", window_start)
        scenario = self.marketing_scenario()
        with freeze_time(due_utc):
            scenario._enrol(self.partner_pl.ids)
            self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.scheduled_at, expected_utc)
        with freeze_time(expected_utc - timedelta(seconds=30)):
            self.run_queue()
        self.assertFalse(self.smtp.messages, "not before the window opens")
        with freeze_time(expected_utc):
            self.run_queue()
        self.assertSentTo("jan@example.pl", 1)
        self.assertEqual(trace.state, "sent")

    def test_dst_spring_night_due_at_0230_sent_at_0800_cest(self):
        # 2026-03-29: Warsaw jumps from 02:00 CET to 03:00 CEST. 02:30 "local" = 00:30 UTC.
        self._dst_night(datetime(2026, 3, 29, 0, 30), 8.0, datetime(2026, 3, 29, 6, 0))

    def test_dst_autumn_night_due_at_0230_sent_at_0800_cet(self):
        # 2026-10-25: Warsaw goes back from 03:00 CEST to 02:00 CET; 02:30 happens twice.
        self._dst_night(datetime(2026, 10, 25, 0, 30), 8.0, datetime(2026, 10, 25, 7, 0))

    def test_dst_window_opening_inside_the_missing_hour(self):
        # A window opening at 02:30 on the spring night opens when the clocks jump (01:00 UTC).
        self._dst_night(datetime(2026, 3, 28, 22, 0), 2.5, datetime(2026, 3, 29, 1, 0))

    def test_rate_limit_defers_the_excess_to_the_next_minute(self):
        self.config.set_param("crm_email_automation.rate_limit_minute", 2)
        partners = self.env["res.partner"].create(
            [{"name": f"Customer {i}", "email": f"customer{i}@example.com"} for i in range(5)]
        )
        scenario = self.create_scenario()
        when = datetime(2026, 6, 10, 10, 0, 20)
        traces = self.send_now(scenario, partners, when)
        self.assertEqual(len(self.smtp.messages), 2)
        deferred = traces.filtered(lambda t: t.state == "scheduled")
        self.assertEqual(len(deferred), 3)
        self.assertEqual(set(deferred.mapped("reason")), {"rate_limit"})
        self.assertEqual(set(deferred.mapped("scheduled_at")), {datetime(2026, 6, 10, 10, 1)})
        self.assertEqual(set(deferred.mapped("attempt_count")), {0})
        with freeze_time(datetime(2026, 6, 10, 10, 1)):
            self.run_queue()
        self.assertEqual(len(self.smtp.messages), 4)
        with freeze_time(datetime(2026, 6, 10, 10, 2)):
            self.run_queue()
        self.assertEqual(len(self.smtp.messages), 5)


@tagged("post_install", "-at_install")
class TestMarketingHeaders(PolicyCommon):
    def test_marketing_mail_carries_one_click_unsubscribe(self):
        self.grant(self.partner_pl)
        traces = self.send_now(self.marketing_scenario(), self.partner_pl)
        (message,) = self.assertSentTo("jan@example.pl")
        self.assertEqual(message["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        header = message["List-Unsubscribe"]
        https_part, mailto_part = (part.strip(" <>") for part in header.split(","))
        self.assertIn("/email_automation/unsubscribe/", https_part)
        self.assertTrue(https_part.startswith("http"))
        self.assertTrue(mailto_part.startswith("mailto:"))
        token = https_part.rsplit("/", 1)[1]
        self.assertNotIn("jan", token)
        self.assertNotIn(str(self.partner_pl.id), https_part.rsplit("/", 1)[0].rsplit("/", 1)[1])
        body = body_text(message)
        self.assertIn(https_part, body, "a visible unsubscribe link in the body")
        self.assertEqual(traces.state, "sent")

    def test_mailto_unsubscribe_through_the_mail_gateway(self):
        self.grant(self.partner_pl)
        self.send_now(self.marketing_scenario(), self.partner_pl)
        (message,) = self.assertSentTo("jan@example.pl")
        mailto = message["List-Unsubscribe"].split(",")[1].strip(" <>")
        address, query = mailto.removeprefix("mailto:").split("?subject=")
        subject = query.replace("%20", " ")
        raw = (
            f"From: Jan Kowalski <jan@example.pl>\nTo: {address}\nSubject: {subject}\n"
            "Message-Id: <unsubscribe-request@example.pl>\n\n\n"
        )
        self.env["mail.thread"].message_process(False, raw.encode())
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        # A forged subject changes nothing.
        self.grant(self.partner_en)
        forged = raw.replace("jan@example.pl", "john@example.com").replace(subject, subject[:-4] + "AAAA")
        forged = forged.replace("unsubscribe-request", "forged-request")
        with contextlib.suppress(ValueError):  # no route: the gateway may refuse the message
            self.env["mail.thread"].message_process(False, forged.encode())
        self.assertEqual(self.partner_en.email_consent_state, "granted")

    def test_transactional_mail_has_no_unsubscribe_header(self):
        self.send_now(self.create_scenario(), self.partner_en)
        (message,) = self.assertSentTo("john@example.com")
        self.assertIsNone(message["List-Unsubscribe"])
        self.assertNotIn("/email_automation/unsubscribe/", body_text(message))


@tagged("post_install", "-at_install")
class TestRetention(PolicyCommon):
    def test_purge_deletes_finished_traces_older_than_the_retention(self):
        self.config.set_param("crm_email_automation.retention_months", 12)
        old = self.history(self.partner_en, [fields.Datetime.now() - timedelta(days=400)])
        recent = self.history(self.partner_en, [fields.Datetime.now() - timedelta(days=30)])
        self.env["email.automation.policy"]._cron_purge_history()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())
