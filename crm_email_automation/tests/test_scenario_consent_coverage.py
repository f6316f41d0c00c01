from odoo import Command
from odoo.tests import Form, tagged

from .common import EmailAutomationCommon


@tagged("post_install", "-at_install")
class TestScenarioConsentCoverage(EmailAutomationCommon):
    """A marketing scenario says how many records of its segment may be e-mailed under the
    consent policy, counted as its responsible user sees the segment and as the queue decides."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config = cls.env["ir.config_parameter"]
        cls.config.set_param("crm_email_automation.consent_policy", "opt_in")
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.config.set_param("crm_email_automation.frequency_cap_count", 0)
        Partner = cls.env["res.partner"]
        cls.granted, cls.suppressed, cls.blacklisted, cls.unknown, cls.withdrawn, cls.pending = Partner.create(
            [
                {"name": f"Coverage {name}", "email": f"coverage.{name}@example.com"}
                for name in ("granted", "suppressed", "blacklisted", "unknown", "withdrawn", "pending")
            ]
        )
        (cls.granted | cls.suppressed | cls.blacklisted)._email_consent_record("granted", "user", reason="test")
        cls.withdrawn._email_consent_record("withdrawn", "user", reason="test")
        cls.pending._email_consent_record("doi_sent", "user", reason="test")
        cls.env["email.automation.suppression"]._suppress(["coverage.suppressed@example.com"], "hard_bounce")
        cls.env["mail.blacklist"]._add("coverage.blacklisted@example.com")
        cls.segment = "[('name', '=like', 'Coverage %')]"

    def marketing_scenario(self, **values):
        values.setdefault("domain", self.segment)
        return self.create_scenario(category="marketing", start=False, user_id=self.user_manager.id, **values)

    def test_counts_and_says_who_will_be_skipped(self):
        scenario = self.marketing_scenario()
        self.assertEqual((scenario.consent_mailable_count, scenario.consent_segment_count), (1, 6))
        self.assertEqual(
            scenario.consent_coverage,
            "May be e-mailed under the consent policy: 1 of 6. The others will be skipped "
            "(no consent, consent withdrawn, or a blocked address).",
        )

    def test_opt_out_counts_unknown_consent_but_never_pending_or_withdrawn(self):
        self.config.set_param("crm_email_automation.consent_policy", "opt_out")
        scenario = self.marketing_scenario()
        self.assertEqual((scenario.consent_mailable_count, scenario.consent_segment_count), (2, 6))

    def test_all_mailable_and_empty_segment(self):
        scenario = self.marketing_scenario(domain=f"[('id', '=', {self.granted.id})]")
        self.assertEqual(scenario.consent_coverage, "May be e-mailed under the consent policy: 1 of 1.")
        scenario.domain = "[('name', '=', 'Nobody at all')]"
        self.assertEqual(scenario.consent_coverage, "No record is in the segment now.")

    def test_the_count_is_what_the_queue_sends(self):
        for policy in ("opt_in", "opt_out"):
            with self.subTest(policy=policy):
                self.config.set_param("crm_email_automation.consent_policy", policy)
                self.smtp.clear()
                scenario = self.marketing_scenario(name=f"Queue {policy}")
                expected = scenario.consent_mailable_count
                scenario.action_start()
                scenario._enrol(scenario._search_enrollable([]).ids)
                self.run_queue()
                sent = scenario.participant_ids.trace_ids.filtered(lambda t: t.state == "sent")
                self.assertEqual(len(sent), expected)
                self.assertEqual(len(self.smtp.messages), expected)

    def test_segment_seen_as_the_responsible_user(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere Ltd"})
        hidden = self.env["res.partner"].create(
            {"name": "Coverage hidden", "email": "coverage.hidden@example.com", "company_id": other_company.id}
        )
        hidden._email_consent_record("granted", "user", reason="test")
        scenario = self.marketing_scenario()
        self.assertEqual(
            (scenario.consent_mailable_count, scenario.consent_segment_count),
            (1, 6),
            "the responsible cannot open the other company's contact: the queue would not mail it",
        )
        # The administrator reads the same figures as the responsible's.
        self.assertEqual(scenario.with_user(self.user_manager).consent_segment_count, 6)

    def test_counts_records_through_their_customer(self):
        orders = self.env["sale.order"].create(
            [
                {
                    "partner_id": partner.id,
                    # The responsible is a salesperson who sees their own orders only.
                    "user_id": self.user_manager.id,
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 1})],
                }
                for partner in (self.granted, self.granted, self.granted, self.unknown)
            ]
        )
        scenario = self.marketing_scenario(
            model="sale.order",
            domain=f"[('id', 'in', {orders.ids})]",
            recipient_field_id=self.env["ir.model.fields"]._get("sale.order", "partner_id").id,
        )
        self.assertEqual((scenario.consent_mailable_count, scenario.consent_segment_count), (3, 4))
        orders[3].user_id = self.user_salesman
        scenario.invalidate_recordset(["consent_segment_count"])
        self.assertEqual(scenario.consent_segment_count, 3, "an order the responsible cannot open is not counted")

    def test_recipient_address_without_contact_needs_opt_out(self):
        leads = self.env["crm.lead"].create(
            [
                {"name": "Coverage lead 1", "email_from": "lead.one@example.com", "user_id": self.user_manager.id},
                {
                    "name": "Coverage lead 2",
                    "email_from": "coverage.suppressed@example.com",
                    "user_id": self.user_manager.id,
                },
            ]
        )
        scenario = self.marketing_scenario(
            model="crm.lead",
            domain=f"[('id', 'in', {leads.ids})]",
            recipient_field_id=self.env["ir.model.fields"]._get("crm.lead", "email_from").id,
        )
        self.assertEqual((scenario.consent_mailable_count, scenario.consent_segment_count), (0, 2))
        self.config.set_param("crm_email_automation.consent_policy", "opt_out")
        scenario.invalidate_recordset(["consent_mailable_count"])
        self.assertEqual(scenario.consent_mailable_count, 1, "the suppressed address is still skipped")

    def test_transactional_scenario_says_nothing(self):
        scenario = self.marketing_scenario()
        scenario.category = "transactional"
        self.assertFalse(scenario.consent_coverage)

    def test_updates_while_the_segment_is_edited(self):
        scenario = self.marketing_scenario()
        with Form(scenario.with_user(self.user_manager)) as form:
            form.domain = f"[('id', 'in', {(self.granted | self.unknown).ids})]"
            self.assertEqual(form.consent_coverage.split(".")[0], "May be e-mailed under the consent policy: 1 of 2")

    def test_query_count_does_not_grow_with_the_segment(self):
        def queries(count):
            partners = self.env["res.partner"].create(
                [
                    {"name": f"Bulk {count} {index}", "email": f"bulk.{count}.{index}@example.com"}
                    for index in range(count)
                ]
            )
            partners[: count // 2]._email_consent_record("granted", "user", reason="test")
            scenario = self.marketing_scenario(name=f"Bulk {count}", domain=f"[('name', '=like', 'Bulk {count} %')]")
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.assertEqual(scenario.consent_mailable_count, count // 2)
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries(10), queries(300))
