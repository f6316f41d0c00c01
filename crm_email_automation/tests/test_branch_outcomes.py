from datetime import timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from .branch_common import T0, BranchCommon


@tagged("post_install", "-at_install")
class TestBranchOutcomes(BranchCommon):
    """Steps that follow what the recipient did with the previous e-mail, sent over real SMTP."""

    def start(self, scenario, partners):
        with freeze_time(T0):
            scenario._enrol(partners.ids)
            self.run_queue()

    def test_opened_branch_runs_at_once_and_not_opened_when_the_window_closes(self):
        scenario = self.branch_scenario(
            [
                {"template": "Thanks", "trigger_type": "mail_opened", "delay": 30, "delay_unit": "minutes"},
                {"template": "Reminder", "trigger_type": "mail_not_opened", "trigger_window": 2},
            ]
        )
        partners = self.partner_pl | self.partner_en
        self.start(scenario, partners)
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer"])
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer"])
        offer_pl = self.trace_of(scenario, self.partner_pl, "Offer")
        offer_en = self.trace_of(scenario, self.partner_en, "Offer")
        self.assertEqual(offer_pl.outcome_due_at, T0 + timedelta(days=2))
        self.assertEqual(set(scenario.participant_ids.mapped("state")), {"running"}, "they wait for the outcome")

        # Jan opens it an hour later: "Thanks" is scheduled at once, 30 minutes after the open.
        opened_at = T0 + timedelta(hours=1)
        with freeze_time(opened_at):
            Trigger = self.env["ir.cron.trigger"]
            triggers_before = Trigger.search_count([])
            self.ingest(offer_pl, "open", opened_at)
            thanks = self.trace_of(scenario, self.partner_pl, "Thanks")
            self.assertEqual((thanks.state, thanks.scheduled_at), ("scheduled", opened_at + timedelta(minutes=30)))
            self.assertEqual(Trigger.search_count([]), triggers_before, "not due yet: the queue is not woken")
        with freeze_time(opened_at + timedelta(minutes=31)):
            self.run_queue()
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer", "Thanks"])

        # A machine open (privacy proxy) of John's e-mail does not count.
        with freeze_time(T0 + timedelta(hours=2)):
            self.ingest(offer_en, "machine_open", T0 + timedelta(hours=2))
        self.assertFalse(self.trace_of(scenario, self.partner_en, "Thanks"))

        # Two days later John's window closes unopened: "Reminder" goes to him only.
        with freeze_time(T0 + timedelta(days=2, minutes=1)):
            self.run_queue()
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer", "Reminder"])
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer", "Thanks"])
        self.assertEqual(self.trace_of(scenario, self.partner_pl, "Reminder"), self.env["email.automation.trace"])

        # John's open, reported late, and Jan's open reported twice: recorded, nothing scheduled.
        with freeze_time(T0 + timedelta(days=2, hours=2)):
            self.ingest(offer_en, "open", T0 + timedelta(days=1))
            self.ingest(offer_pl, "open", opened_at, message_id="again")
            self.run_queue()
        self.assertEqual(offer_en.event_ids.mapped("event_type").count("open"), 1)
        self.assertFalse(self.trace_of(scenario, self.partner_en, "Thanks"))
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer", "Thanks"])
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer", "Reminder"])
        decisions = self.env["email.automation.branch.decision"].search([("trace_id", "in", (offer_pl | offer_en).ids)])
        self.assertEqual(
            sorted((d.trace_id.id, d.pair, d.is_negative) for d in decisions),
            sorted([(offer_pl.id, "opened", False), (offer_en.id, "opened", True)]),
        )
        self.assertEqual(set(scenario.participant_ids.mapped("state")), {"completed"})
        self.assertFalse(any((offer_pl | offer_en).mapped("outcome_due_at")))

    def test_positive_event_due_now_wakes_the_queue(self):
        scenario = self.branch_scenario([{"template": "Thanks", "trigger_type": "mail_clicked"}])
        self.start(scenario, self.partner_en)
        offer = self.trace_of(scenario, self.partner_en, "Offer")
        self.assertEqual(offer.outcome_due_at, offer.sent_at + timedelta(days=30), "it waits for a click")
        self.assertEqual(offer.participant_id.state, "running")
        with freeze_time(T0 + timedelta(hours=3)):
            cron = self.env.ref("crm_email_automation.ir_cron_process_queue")
            self.env.cr.precommit.run()  # the enrolment and its e-mail were committed apart
            before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
            self.ingest(offer, "click", T0 + timedelta(hours=3), url="https://example.com/offer")
            self.env.cr.precommit.run()
            self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), before + 1)
            self.run_queue()
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer", "Thanks"])

    def test_click_on_a_given_link_and_not_clicked(self):
        scenario = self.branch_scenario(
            [
                {"template": "Link", "trigger_type": "mail_clicked", "trigger_url": "https://example.com/offer"},
                {"template": "Nudge", "trigger_type": "mail_not_clicked", "trigger_window": 1},
                {"template": "Thanks", "trigger_type": "mail_opened"},
            ]
        )
        third = self.env["res.partner"].create({"name": "Anna Nowak", "email": "anna@example.pl"})
        self.start(scenario, self.partner_pl | self.partner_en | third)
        with freeze_time(T0 + timedelta(hours=1)):
            # Jan clicks another link: no "Link", but no "not clicked" either; a click proves an open.
            self.ingest(
                self.trace_of(scenario, self.partner_pl, "Offer"), "click", T0 + timedelta(hours=1), url="https://x.org"
            )
            # John clicks the offer; Anna clicks nothing.
            self.ingest(
                self.trace_of(scenario, self.partner_en, "Offer"),
                "click",
                T0 + timedelta(hours=1),
                url="https://example.com/offer",
            )
            self.run_queue()
        with freeze_time(T0 + timedelta(days=1, minutes=1)):
            self.run_queue()
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer", "Thanks"])
        self.assertEqual(self.subjects_to("john@example.com"), ["Link", "Offer", "Thanks"])
        self.assertEqual(self.subjects_to("anna@example.pl"), ["Nudge", "Offer"])

    def test_reply_through_the_mail_gateway_and_bounce(self):
        activity_type = self.env.ref("mail.mail_activity_data_call")
        scenario = self.branch_scenario(
            [
                {"template": "Thanks", "trigger_type": "mail_replied"},
                {"template": "Reminder", "trigger_type": "mail_not_replied", "trigger_window": 3},
                {
                    "name": "Call them",
                    "trigger_type": "mail_bounced",
                    "action_type": "activity",
                    "activity_type_id": activity_type.id,
                    "mail_template_id": False,
                },
            ]
        )
        self.start(scenario, self.partner_pl | self.partner_en)
        offer_pl = self.trace_of(scenario, self.partner_pl, "Offer")
        offer_en = self.trace_of(scenario, self.partner_en, "Offer")
        with freeze_time(T0 + timedelta(hours=5)):
            self.env["email.automation.event"]._record_reply(
                {
                    "in_reply_to": offer_pl.message_id,
                    "message_id": "<reply-1@example.pl>",
                    "date": "2026-03-04 14:00:00",
                    "email_from": "jan@example.pl",
                }
            )
            self.ingest(offer_en, "hard_bounce", T0 + timedelta(hours=5))
            self.run_queue()
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Offer", "Thanks"])
        call = self.trace_of(scenario, self.partner_en, "Call them")
        self.assertEqual(call.state, "sent")
        self.assertTrue(self.partner_en.activity_ids.filtered(lambda a: a.activity_type_id == activity_type))
        with freeze_time(T0 + timedelta(days=3, minutes=1)):
            self.run_queue()
        # John never replied: "Reminder" is due, but his address bounced, so it is skipped.
        reminder = self.trace_of(scenario, self.partner_en, "Reminder")
        self.assertEqual(reminder.state, "skipped")
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer"])
        self.assertFalse(self.trace_of(scenario, self.partner_pl, "Reminder"))

    def test_condition_split_reads_as_the_responsible(self):
        self.partner_pl.user_id = self.user_manager
        self.partner_en.user_id = self.user_salesman
        domain = "[('user_id', '=', uid)]"
        scenario = self.branch_scenario(
            [
                {"template": "Matches", "trigger_type": "condition_true", "trigger_domain": domain},
                {"template": "Other", "trigger_type": "condition_false", "trigger_domain": domain, "delay": 1},
            ],
            user_id=self.user_manager.id,
        )
        self.start(scenario, self.partner_pl | self.partner_en)
        # The queue runs as superuser; `uid` in the filter is the scenario's responsible.
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Matches", "Offer"])
        other = self.trace_of(scenario, self.partner_en, "Other")
        self.assertEqual((other.state, other.scheduled_at), ("scheduled", T0 + timedelta(days=1)))
        self.assertFalse(self.trace_of(scenario, self.partner_en, "Matches"))
        self.assertFalse(self.trace_of(scenario, self.partner_pl, "Other"))
        with freeze_time(T0 + timedelta(days=1, minutes=1)):
            self.run_queue()
        self.assertEqual(self.subjects_to("john@example.com"), ["Offer", "Other"])

    def test_condition_split_after_an_activity(self):
        activity_type = self.env.ref("mail.mail_activity_data_call")
        scenario = self.branch_scenario(
            [
                {
                    "template": "Matches",
                    "trigger_type": "condition_true",
                    "trigger_domain": "[('lang', '=', 'pl_PL')]",
                },
                {"template": "Other", "trigger_type": "condition_false", "trigger_domain": "[('lang','=','pl_PL')]"},
            ],
            parent_action="activity",
            parent_values={"activity_type_id": activity_type.id},
        )
        self.start(scenario, self.partner_pl | self.partner_en)
        self.assertEqual(self.subjects_to("jan@example.pl"), ["Matches"])
        self.assertEqual(self.subjects_to("john@example.com"), ["Other"])

    def test_skipped_parent_takes_no_branch(self):
        scenario = self.branch_scenario(
            [
                {"template": "Thanks", "trigger_type": "mail_opened"},
                {"template": "Reminder", "trigger_type": "mail_not_opened", "trigger_window": 1},
            ]
        )
        scenario.step_ids.filtered(lambda s: s.trigger_type == "begin").condition_domain = "[('id', '=', 0)]"
        self.start(scenario, self.partner_en)
        offer = self.trace_of(scenario, self.partner_en, "Offer")
        self.assertEqual(offer.state, "skipped")
        self.assertFalse(offer.outcome_due_at)
        with freeze_time(T0 + timedelta(days=2)):
            self.run_queue()
        self.assertFalse(self.smtp.messages)
        self.assertEqual(
            set(scenario.participant_ids.trace_ids.filtered(lambda t: t != offer).mapped("state")), {"cancelled"}
        )
