"""/email_automation/metrics and /email_automation/health over real HTTP (issue 11, section 4).

The metrics are read by the Prometheus client's own parser, as Prometheus would read them;
the token is checked on every request, and a refused request learns nothing."""

import re
from datetime import timedelta
from unittest.mock import patch

import yaml
from prometheus_client.parser import text_string_to_metric_families

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import file_open

from ..controllers import metrics as metrics_controller
from .webhook_common import WebhookCommon

METRICS = "/email_automation/metrics"
HEALTH = "/email_automation/health"
TOKEN_PARAM = "crm_email_automation.metrics_token"


@tagged("post_install", "-at_install")
class TestMetricsHttp(WebhookCommon):
    def setUp(self):
        super().setUp()
        self.token = self.env["email.automation.metrics"]._regenerate_token()

    def scrape(self, token=None, query_token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        path = f"{METRICS}?token={query_token}" if query_token else METRICS
        self.env.flush_all()
        return self.url_open(path, headers=headers)

    def families(self, response):
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        return {family.name: family for family in text_string_to_metric_families(response.text)}

    def samples(self, family, name=None, **labels):
        """The values of the samples of `family` whose labels include `labels`."""
        return [
            sample.value
            for sample in family.samples
            if (name is None or sample.name == name) and labels.items() <= sample.labels.items()
        ]

    def test_metrics_are_prometheus_text_with_the_real_figures(self):
        baseline = self.families(self.scrape(self.token))
        # A bounce reported by Brevo's webhook, over HTTP as in production.
        response = self.post_brevo(self.brevo_event("hard_bounce", self.trace_pl, reason="unknown user"))
        self.assertEqual(response.status_code, 200, response.text)
        # A failed e-mail, one deferred by the quiet hours, one due 10 minutes ago.
        step = self.scenario.step_ids[0]
        Participant, Trace = self.env["email.automation.participant"], self.env["email.automation.trace"]
        now = fields.Datetime.now()
        waiting = []
        for index, (state, reason, due) in enumerate(
            [
                ("failed", "render_error", now),
                ("scheduled", "quiet_hours", now + timedelta(hours=8)),
                ("scheduled", False, now - timedelta(minutes=10)),
            ]
        ):
            partner = self.env["res.partner"].create({"name": f"Metric {index}", "email": f"m{index}@example.com"})
            participant = Participant.create(
                {"scenario_id": self.scenario.id, "res_id": partner.id, "partner_id": partner.id}
            )
            waiting.append(
                Trace.create(
                    {
                        "participant_id": participant.id,
                        "step_id": step.id,
                        "state": state,
                        "reason": reason,
                        "scheduled_at": due,
                    }
                )
            )
        # A test run's e-mail is never counted.
        tester = self.env["res.partner"].create({"name": "Tester", "email": "tester@example.com"})
        participant = Participant.create(
            {"scenario_id": self.scenario.id, "res_id": tester.id, "partner_id": tester.id}
        )
        Trace.create(
            {
                "participant_id": participant.id,
                "step_id": step.id,
                "state": "sent",
                "is_test": True,
                "provider_id": self.brevo.id,
            }
        )
        self.mandrill.action_pause()

        families = self.families(self.scrape(self.token))

        scenario, brevo, mandrill = str(self.scenario.id), str(self.brevo.id), str(self.mandrill.id)
        queue = families["email_automation_queue_traces"]
        # The database may hold the demo's traces: the figures are compared with it, and
        # with what this test added.
        for state in ("scheduled", "processing", "sent", "skipped", "failed", "cancelled"):
            [count] = self.samples(queue, state=state)
            self.assertEqual(count, Trace.search_count([("state", "=", state), ("is_test", "=", False)]), state)
            [before] = self.samples(baseline["email_automation_queue_traces"], state=state)
            self.assertEqual(count - before, {"failed": 1, "scheduled": 2}.get(state, 0), state)
        [age] = self.samples(families["email_automation_queue_oldest_due_age_seconds"])
        self.assertGreaterEqual(age, 600)
        self.assertLess(age, 900)

        sent = families["email_automation_traces_sent"]
        self.assertEqual(sent.type, "counter")
        self.assertEqual(
            self.samples(sent, "email_automation_traces_sent_total", scenario_id=scenario, provider_id=brevo), [2.0]
        )
        self.assertEqual(self.samples(sent, "email_automation_traces_sent_total", provider_id=mandrill), [1.0])
        self.assertEqual(self.samples(sent, scenario="Newsletter", provider="Brevo"), [2.0])
        failed = families["email_automation_traces_failed"]
        # Failed before any provider took it: the scenario's provider (the default SMTP one).
        default = self.scenario._get_provider()
        self.assertEqual(
            self.samples(
                failed, "email_automation_traces_failed_total", scenario_id=scenario, provider_id=str(default.id)
            ),
            [1.0],
        )
        deferred = families["email_automation_traces_deferred"]
        self.assertEqual(self.samples(deferred, scenario_id=scenario, reason="quiet_hours"), [1.0])

        events = families["email_automation_tracking_events"]
        self.assertEqual(self.samples(events, provider_id=brevo, event="hard_bounce"), [1.0])

        self.assertEqual(self.samples(families["email_automation_provider_paused"], provider_id=mandrill), [1.0])
        self.assertEqual(self.samples(families["email_automation_provider_paused"], provider_id=brevo), [0.0])
        self.assertEqual(self.samples(families["email_automation_provider_recent_sends"], provider_id=brevo), [2.0])
        self.assertEqual(self.samples(families["email_automation_provider_bounce_ratio"], provider_id=brevo), [0.5])
        self.assertEqual(self.samples(families["email_automation_provider_complaint_ratio"], provider_id=brevo), [0.0])

    def test_the_intake_shows_what_waits_and_what_failed(self):
        baseline = self.families(self.scrape(self.token))
        [waiting_before] = self.samples(baseline["email_automation_intake_signals"], state="waiting")
        [failed_before] = self.samples(baseline["email_automation_intake_signals"], state="failed")
        # A webhook request accepted a minute ago, not recorded yet; and one that failed.
        self.post_brevo(self.brevo_event("delivered", self.trace_pl), record=False)
        Intake = self.env["email.automation.intake"].sudo()
        waiting = Intake.search([("error", "=", False)], order="id desc", limit=1)
        waiting.received_at = fields.Datetime.now() - timedelta(seconds=90)
        Intake.create({"kind": "webhook", "received_at": fields.Datetime.now(), "error": "boom"})

        families = self.families(self.scrape(self.token))
        intake = families["email_automation_intake_signals"]
        self.assertEqual(self.samples(intake, state="waiting"), [waiting_before + 1])
        self.assertEqual(self.samples(intake, state="failed"), [failed_before + 1])
        [age] = self.samples(families["email_automation_intake_oldest_age_seconds"])
        self.assertGreaterEqual(age, 90)

        self.record_intake()
        families = self.families(self.scrape(self.token))
        self.assertEqual(self.samples(families["email_automation_intake_signals"], state="waiting"), [0])

    def test_the_token_is_required_and_compared_in_constant_time(self):
        with patch.object(
            metrics_controller.hmac, "compare_digest", wraps=metrics_controller.hmac.compare_digest
        ) as compare:
            missing = self.scrape()
            wrong = self.scrape("not-the-token")
            wrong_query = self.scrape(query_token="not-the-token")
            self.assertEqual(compare.call_count, 2, "every given token goes through hmac.compare_digest")
        self.assertEqual(missing.status_code, 401)
        self.assertIn("Bearer", missing.headers["WWW-Authenticate"])
        self.assertEqual(missing.json(), {"error": "token required"})
        for response in (wrong, wrong_query):
            self.assertEqual(response.status_code, 403)
            self.assertEqual(response.json(), {"error": "invalid token"})
        for response in (missing, wrong, wrong_query):
            self.assertNotIn("email_automation_", response.text, "a refused scraper learns nothing")
            self.assertNotIn("Newsletter", response.text)
            self.assertEqual(response.headers["Cache-Control"], "no-store")
        # The token in the query string works too (for scrapers that cannot send headers).
        self.assertIn("email_automation_queue_traces", self.families(self.scrape(query_token=self.token)))

    def test_no_token_set_lets_nobody_in_and_a_new_token_replaces_the_old(self):
        self.env["ir.config_parameter"].set_param(TOKEN_PARAM, False)
        for token in ("anything", "\0" * 43):
            self.assertEqual(self.scrape(token).status_code, 403)
        first = self.env["email.automation.metrics"]._regenerate_token()
        self.assertEqual(self.scrape(first).status_code, 200)
        second = self.env["email.automation.metrics"]._regenerate_token()
        self.assertNotEqual(first, second)
        self.assertEqual(self.scrape(first).status_code, 403, "the former token stops working at once")
        self.assertEqual(self.scrape(second).status_code, 200)

    def test_metrics_answer_get_only(self):
        self.env.flush_all()
        response = self.url_open(METRICS, data=b"x", headers={"Authorization": f"Bearer {self.token}"})
        self.assertEqual(response.status_code, 405)

    def test_health_answers_json_without_token(self):
        response = self.url_open(HEALTH)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/json")
        self.assertEqual(response.json(), {"status": "ok", "database": "ok"})
        self.assertEqual(response.headers["Cache-Control"], "no-store")

    def test_only_administrators_see_and_renew_the_token(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.email_automation_metrics_token, self.token)
        self.assertTrue(settings.email_automation_metrics_url.endswith(METRICS))
        settings.action_email_automation_metrics_token()
        self.assertNotEqual(self.env["email.automation.metrics"]._token(), self.token)
        # A Manager of the module is not an administrator: no Settings, no token.
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.user_manager).create({})
        with self.assertRaises(AccessError):
            settings.with_user(self.user_manager).action_email_automation_metrics_token()

    def test_the_documented_scrape_config_and_rules_match_the_metrics(self):
        with file_open("crm_email_automation/readme/CONFIGURE.md") as readme:
            documents = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", readme.read(), re.S)]
        [scrape] = [doc for doc in documents if "scrape_configs" in doc]
        self.assertEqual(scrape["scrape_configs"][0]["metrics_path"], METRICS)
        self.assertEqual(scrape["scrape_configs"][0]["authorization"]["type"], "Bearer")
        [rules] = [doc for doc in documents if "groups" in doc]
        families = self.families(self.scrape(self.token))
        exposed = {f"{name}_total" if family.type == "counter" else name for name, family in families.items()}
        used = {
            name for rule in rules["groups"][0]["rules"] for name in re.findall(r"email_automation_\w+", rule["expr"])
        }
        self.assertGreaterEqual(len(used), 6)
        self.assertLessEqual(used, exposed, "every metric the rules use is exposed")

    def test_a_scrape_costs_the_same_queries_whatever_the_traces(self):
        """Aggregates only: ten times the traces, the same queries (no loop over traces)."""
        env = self.env(user=self.env.ref("base.user_root"), su=True)

        def queries():
            env.invalidate_all()
            before = env.cr.sql_log_count
            text = b"".join(
                family.name.encode() for family in metrics_controller.EmailAutomationMetricsCollector(env).collect()
            )
            self.assertIn(b"email_automation_provider_bounce_ratio", text)
            return env.cr.sql_log_count - before

        step = self.scenario.step_ids[0]

        def add_traces(count, offset):
            partners = self.env["res.partner"].create(
                [{"name": f"Bulk {offset + i}", "email": f"bulk{offset + i}@example.com"} for i in range(count)]
            )
            participants = self.env["email.automation.participant"].create(
                [{"scenario_id": self.scenario.id, "res_id": p.id, "partner_id": p.id} for p in partners]
            )
            self.env["email.automation.trace"].create(
                [
                    {"participant_id": p.id, "step_id": step.id, "state": "sent", "provider_id": self.brevo.id}
                    for p in participants
                ]
            )
            self.env.flush_all()

        # Each measure after a first scrape: the caches the writes cleared (parameters) filled.
        add_traces(5, 0)
        queries()
        few = queries()
        add_traces(50, 5)
        queries()
        self.assertEqual(queries(), few)
