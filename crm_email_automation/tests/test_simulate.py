from collections import Counter

from odoo.tests import Form, tagged

from .test_policy import PolicyCommon


@tagged("post_install", "-at_install")
class TestSimulate(PolicyCommon):
    """Simulate: the records that would enter now, a sample, and per step what would be
    sent and which check or policy would stop whom; nothing sent, nothing kept."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        Partner = cls.env["res.partner"]
        names = ("Anna Nowak", "Bartosz Zieliński", "Celina Wójcik", "Dariusz Lis", "Ewa Kamińska")
        cls.anna, cls.bartosz, cls.celina, cls.dariusz, cls.ewa = Partner.create(
            [
                {
                    "name": name,
                    "email": f"{name.split()[0].lower()}@sim.example",
                    "city": "Kraków" if index < 2 else "Gdańsk",
                    "lang": "pl_PL",
                }
                for index, name in enumerate(names)
            ]
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.marketing_scenario(
            start=False,
            domain="[('email', '=ilike', '%@sim.example')]",
            steps=[
                {"name": "Newsletter", "trigger_type": "begin"},
                {
                    "name": "Kraków offer",
                    "trigger_type": "after_parent",
                    "condition_domain": "[('city', '=', 'Kraków')]",
                },
            ],
        )
        # Anna and Dariusz consented; Celina withdrew; Dariusz's address is blacklisted;
        # Bartosz never answered; Ewa already went through the scenario (once per record).
        self.grant(self.anna | self.dariusz | self.celina | self.ewa)
        self.celina._email_consent_record("withdrawn", "user", reason="asked by phone")
        self.env["mail.blacklist"]._add("dariusz@sim.example")
        self.env["email.automation.participant"].create(
            {"scenario_id": self.scenario.id, "res_id": self.ewa.id, "partner_id": self.ewa.id, "state": "completed"}
        )

    def stored(self):
        self.env.flush_all()
        return {
            model: self.env[model].sudo().search_count([])
            for model in (
                "email.automation.participant",
                "email.automation.trace",
                "email.automation.rate.counter",
                "mail.mail",
                "mail.message",
                "mail.blacklist",
            )
        }

    def test_figures_per_step_and_nothing_sent_or_stored(self):
        # A rate limit too: its counter must not keep the simulated sends.
        self.config.set_param("crm_email_automation.rate_limit_hour", 100)
        before = self.stored()
        form = Form(
            self.env["email.automation.simulate"]
            .with_user(self.user_manager)
            .with_context(default_scenario_id=self.scenario.id)
        )
        self.assertEqual(form.enter_count, 4, "Ewa is kept out by the re-entry policy")
        self.assertEqual(
            set(form.sample.splitlines()), {"Anna Nowak", "Bartosz Zieliński", "Celina Wójcik", "Dariusz Lis"}
        )
        report = form.step_report
        self.assertIn("Newsletter", report)
        self.assertIn("No marketing consent: <b>1</b>", report)

        result = self.env["email.automation.simulate"].with_user(self.user_manager)._simulate(self.scenario)
        newsletter, offer = (outcome for _step, outcome in result["steps"])
        self.assertEqual(
            newsletter,
            Counter(
                {
                    ("processing", False): 1,
                    ("skipped", "no_consent"): 1,
                    ("skipped", "consent_withdrawn"): 1,
                    ("skipped", "blacklisted"): 1,
                }
            ),
        )
        self.assertEqual(
            offer,
            Counter({("processing", False): 1, ("skipped", "no_consent"): 1, ("skipped", "condition_false"): 2}),
        )
        self.assertEqual(self.stored(), before, "no participant, trace, counter, mail or message kept")
        self.assertFalse(self.smtp.messages, "nothing reached the SMTP server")
        self.scenario.invalidate_recordset()
        self.assertEqual(self.scenario.participant_count, 1, "only Ewa's past participation")

    def test_simulation_runs_as_the_responsible(self):
        # A responsible who may read no order: nothing would enter an order scenario.
        self.create_order()
        scenario = self.create_scenario("sale.order", start=False, user_id=self.user_user.id)
        result = self.env["email.automation.simulate"].with_user(self.user_manager)._simulate(scenario)
        self.assertEqual(result["count"], 0)
        admin_scenario = self.create_scenario("sale.order", start=False)
        result = self.env["email.automation.simulate"].with_user(self.user_manager)._simulate(admin_scenario)
        self.assertEqual(result["count"], self.env["sale.order"].search_count([]))
