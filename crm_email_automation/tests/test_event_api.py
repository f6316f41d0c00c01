"""The event API (issue 12, section 1), over real HTTP to Odoo's server: an outside system
posts events with its key; scenarios triggered by "Outside event" enrol the records and
their e-mails read the payload; refusals are problem details and change nothing."""

import json
import os
import xmlrpc.client

from odoo.tests import new_test_user, tagged
from odoo.tools.misc import file_path

from .event_api_common import BATCH_URL, EVENTS_URL, OPENAPI_URL, EventApiCommon

RPC_ACCESS_ERROR = 4


@tagged("post_install", "-at_install")
class TestEventApi(EventApiCommon):
    def outside_events(self):
        return self.env["email.automation.outside.event"].search([])

    # ------------------------------------------------------------------
    # Enrolment and payload
    # ------------------------------------------------------------------

    def test_event_enrols_the_record_and_its_email_reads_the_payload(self):
        scenario = self.shipped_scenario()
        status, _headers, body = self.post(EVENTS_URL, self.event())
        self.assertEqual(status, 201, body)
        self.assertEqual(body["target"], {"model": "res.partner", "id": self.partner_pl.id})
        self.assertEqual(body["enrolled"], 1)
        self.assertFalse(body["contact_created"])
        participant = scenario.participant_ids
        self.assertEqual(participant.res_id, self.partner_pl.id)
        self.assertEqual(participant.outside_event_id.id, body["id"])
        self.assertEqual(participant.outside_event_id.payload["order_ref"], "S00042")
        # The event is when it happened: 09:15 in +01:00.
        self.assertEqual(str(participant.enrolled_at), "2026-11-30 08:15:00")
        self.run_queue()
        (message,) = self.assertSentTo(self.partner_pl.email)
        self.assertEqual(message["Subject"], "Zamówienie S00042 zostało wysłane")
        self.assertIn("https://track.example.com/42", message.get_body(("html",)).get_content())

    def test_event_wakes_the_queue(self):
        self.shipped_scenario()
        cron = self.env.ref("crm_email_automation.ir_cron_process_queue")
        Trigger = self.env["ir.cron.trigger"].sudo()
        before = Trigger.search_count([("cron_id", "=", cron.id)])
        status, _headers, body = self.post(EVENTS_URL, self.event())
        self.assertEqual(status, 201, body)
        self.assertGreater(Trigger.search_count([("cron_id", "=", cron.id)]), before)

    def test_events_of_other_names_or_models_enrol_nothing(self):
        scenario = self.shipped_scenario()
        status, _headers, body = self.post(EVENTS_URL, self.event(name="order_cancelled"))
        self.assertEqual(status, 201, body)
        self.assertEqual(body["enrolled"], 0)
        self.assertFalse(scenario.participant_ids)
        self.assertEqual(self.outside_events().name, "order_cancelled")

    def test_step_event_condition_reads_the_payload(self):
        scenario = self.shipped_scenario()
        scenario.step_ids.payload_condition = "payload.get('order_ref', '').startswith('S')"
        self.post(EVENTS_URL, self.event())
        self.post(EVENTS_URL, self.event(self.partner_en, payload={"order_ref": "R7", "tracking_url": "x"}))
        self.run_queue()
        self.assertSentTo(self.partner_pl.email)
        self.assertSentTo(self.partner_en.email, count=0)
        skipped = scenario.participant_ids.filtered(lambda p: p.res_id == self.partner_en.id).trace_ids
        self.assertEqual((skipped.state, skipped.reason), ("skipped", "condition_false"))

    def test_external_id_target(self):
        scenario = self.shipped_scenario()
        self.env["ir.model.data"].create(
            {"module": "shop", "name": "customer_1042", "model": "res.partner", "res_id": self.partner_en.id}
        )
        event = self.event(target={"external_id": "shop.customer_1042"})
        status, _headers, body = self.post(EVENTS_URL, event)
        self.assertEqual(status, 201, body)
        self.assertEqual(scenario.participant_ids.res_id, self.partner_en.id)

    # ------------------------------------------------------------------
    # Contacts and consent
    # ------------------------------------------------------------------

    def test_unknown_contact_is_created_with_consent_from_its_proof(self):
        scenario = self.shipped_scenario(category="marketing")
        proof = {
            "wording_version": "shop-2026-01",
            "consented_at": "2026-11-29T18:00:00Z",
            "source": "checkout form https://shop.example.com/checkout",
            "ip_address": "203.0.113.7",
        }
        target = {"email": "Nowa.Klientka@Example.com", "name": "Nowa Klientka", "consent": proof}
        status, _headers, body = self.post(EVENTS_URL, self.event(target=target))
        self.assertEqual(status, 201, body)
        self.assertTrue(body["contact_created"])
        self.assertTrue(body["consent_recorded"])
        partner = self.env["res.partner"].browse(body["target"]["id"])
        self.assertEqual((partner.name, partner.email), ("Nowa Klientka", "nowa.klientka@example.com"))
        self.assertEqual(partner.email_consent_state, "granted")
        entry = self.env["email.automation.consent"].search([("partner_id", "=", partner.id)])
        self.assertEqual(len(entry), 1)
        self.assertEqual((entry.event, entry.source, entry.wording_id), ("granted", "api", self.wording))
        self.assertEqual(entry.ip_address, "203.0.113.7")
        self.assertEqual(entry.user_id, self.api_user)
        self.assertIn("checkout form", entry.reason)
        self.assertIn("2026-11-29 18:00:00", entry.reason)
        self.assertEqual(scenario.participant_ids.res_id, partner.id)
        self.run_queue()
        self.assertSentTo("nowa.klientka@example.com")

    def test_contact_without_proof_gets_no_consent(self):
        status, _headers, body = self.post(EVENTS_URL, self.event(target={"email": "bez.zgody@example.com"}))
        self.assertEqual(status, 201, body)
        self.assertTrue(body["contact_created"])
        self.assertFalse(body["consent_recorded"])
        partner = self.env["res.partner"].browse(body["target"]["id"])
        self.assertNotEqual(partner.email_consent_state, "granted")
        self.assertFalse(self.env["email.automation.consent"].search([("partner_id", "=", partner.id)]))

    def test_known_contact_is_found_by_address(self):
        target = {"email": self.partner_en.email.upper()}
        status, _headers, body = self.post(EVENTS_URL, self.event(target=target))
        self.assertEqual(status, 201, body)
        self.assertFalse(body["contact_created"])
        self.assertEqual(body["target"]["id"], self.partner_en.id)

    def test_unknown_wording_version_is_refused_and_creates_no_contact(self):
        proof = {"wording_version": "nope", "consented_at": "2026-11-29T18:00:00Z", "source": "x", "ip_address": "::1"}
        status, headers, body = self.post(EVENTS_URL, self.event(target={"email": "x@example.com", "consent": proof}))
        self.assertProblem(status, headers, body, 422)
        self.assertEqual(body["errors"][0]["pointer"], "/target/consent/wording_version")
        self.assertFalse(self.env["res.partner"].search([("email", "=", "x@example.com")]))

    # ------------------------------------------------------------------
    # Batch, idempotency
    # ------------------------------------------------------------------

    def test_batch_enrols_every_event(self):
        scenario = self.shipped_scenario()
        events = [self.event(), self.event(self.partner_en), self.event(target={"email": "batch@example.com"})]
        status, _headers, body = self.post(BATCH_URL, {"events": events})
        self.assertEqual(status, 201, body)
        self.assertEqual([e["enrolled"] for e in body["events"]], [1, 1, 1])
        self.assertEqual(len(scenario.participant_ids), 3)

    def test_batch_with_one_bad_event_writes_nothing(self):
        scenario = self.shipped_scenario()
        partners_before = self.env["res.partner"].search_count([])
        missing = self.event(target={"model": "res.partner", "id": 2_000_000_000})
        events = [self.event(target={"email": "first@example.com"}), missing]
        status, headers, body = self.post(BATCH_URL, {"events": events})
        self.assertProblem(status, headers, body, 422)
        self.assertEqual(body["errors"], [{"pointer": "/events/1/target/id", "detail": "no such record"}])
        self.assertFalse(self.outside_events())
        self.assertFalse(scenario.participant_ids)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)

    def test_batch_over_500_events_is_refused(self):
        status, headers, body = self.post(BATCH_URL, {"events": [self.event()] * 501})
        self.assertProblem(status, headers, body, 422)
        self.assertEqual(body["errors"][0]["pointer"], "/events")
        self.assertFalse(self.outside_events())

    def test_repeated_idempotency_key_returns_the_first_answer_and_enrols_nothing_again(self):
        scenario = self.shipped_scenario(reentry_policy="always")
        key = {"Idempotency-Key": "order-S00042-shipped"}
        first = self.post(EVENTS_URL, self.event(), headers=key)
        self.assertEqual(first[0], 201, first[2])
        scenario.participant_ids._end("completed", False)
        second = self.post(EVENTS_URL, self.event(), headers=key)
        self.assertEqual(second[0], 201)
        self.assertEqual(second[2], first[2])
        self.assertEqual(second[1].get("Idempotent-Replayed"), "true")
        self.assertEqual(len(self.outside_events()), 1)
        self.assertEqual(len(scenario.participant_ids), 1)
        # Without the key the same event is a new one.
        third = self.post(EVENTS_URL, self.event())
        self.assertEqual(third[2]["enrolled"], 1)
        self.assertEqual(len(scenario.participant_ids), 2)

    def test_idempotency_key_with_another_body_is_refused(self):
        key = {"Idempotency-Key": "k-1"}
        self.post(EVENTS_URL, self.event(), headers=key)
        status, headers, body = self.post(EVENTS_URL, self.event(self.partner_en), headers=key)
        self.assertProblem(status, headers, body, 422)
        self.assertEqual(body["title"], "Idempotency-Key reused")
        self.assertEqual(len(self.outside_events()), 1)

    def test_idempotency_keys_are_per_api_user(self):
        other = new_test_user(self.env, "event_api_2", groups="crm_email_automation.group_api")
        key = {"Idempotency-Key": "shared"}
        self.post(EVENTS_URL, self.event(), headers=key)
        status, headers, body = self.post(EVENTS_URL, self.event(), key=self.new_key(other), headers=key)
        self.assertEqual(status, 201, body)
        self.assertNotIn("Idempotent-Replayed", headers)
        self.assertEqual(len(self.outside_events()), 2)

    # ------------------------------------------------------------------
    # Refusals
    # ------------------------------------------------------------------

    def test_requests_without_a_valid_key_are_refused(self):
        for key in (False, "not-a-key"):
            status, headers, body = self.post(EVENTS_URL, self.event(), key=key)
            self.assertProblem(status, headers, body, 401)
            self.assertIn("Bearer", headers["WWW-Authenticate"])
        # An internal user's key (a manager's) posts nothing: only the API group may.
        status, headers, body = self.post(EVENTS_URL, self.event(), key=self.new_key(self.user_manager))
        self.assertProblem(status, headers, body, 403)
        self.assertFalse(self.outside_events())

    def test_rate_limit_per_key(self):
        self.env["ir.config_parameter"].set_param("crm_email_automation.api_requests_per_minute", 2)
        for _attempt in range(2):
            self.assertEqual(self.post(EVENTS_URL, self.event())[0], 201)
        status, headers, body = self.post(EVENTS_URL, self.event())
        self.assertProblem(status, headers, body, 429)
        self.assertGreaterEqual(int(headers["Retry-After"]), 1)
        self.assertEqual(len(self.outside_events()), 2)
        # Another key has its own count.
        other = new_test_user(self.env, "event_api_3", groups="crm_email_automation.group_api")
        self.assertEqual(self.post(EVENTS_URL, self.event(), key=self.new_key(other))[0], 201)

    def test_bad_bodies_are_problems_and_write_nothing(self):
        cases = [
            ("not json", {}, 400),
            (json.dumps(self.event()), {"Content-Type": "text/plain"}, 415),
            (json.dumps({"name": "x y", "target": {}, "occurred_at": "yesterday"}), {}, 422),
            (json.dumps(self.event(occurred_at="2026-11-30T09:15:00")), {}, 422),
            (json.dumps(self.event(occurred_at="2999-01-01T00:00:00Z")), {}, 422),
            (json.dumps(self.event(target={"model": "res.users", "id": 1})), {}, 422),
            (json.dumps(self.event(target={"email": "not an address"})), {}, 422),
            (json.dumps(self.event(payload=[1, 2])), {}, 422),
            (json.dumps([self.event()]), {}, 422),
            (json.dumps(self.event()), {"Idempotency-Key": "é"}, 422),
        ]
        for raw, headers, expected in cases:
            with self.subTest(body=raw[:60], headers=headers):
                status, answer_headers, body = self.post(EVENTS_URL, None, raw=raw, headers=headers)
                self.assertProblem(status, answer_headers, body, expected)
        self.assertFalse(self.outside_events())

    def test_text_postgresql_cannot_store_is_refused_not_a_500(self):
        nul_name = json.dumps(self.event(target={"email": "nul@example.com", "name": "A\u0000B"}))
        surrogate_key = json.dumps(self.event(payload={"\ud800": 1}))
        deep = '{"name": "order_shipped", "payload": ' + "[" * 5000 + "]" * 5000 + "}"
        cases = [
            (nul_name, 422, "/target/name"),
            (surrogate_key, 422, "/payload/\ud800"),
            ('{"name": NaN}', 400, None),
            (json.dumps(self.event(payload={"big": 1})).replace('"big": 1', '"big": 1e400'), 400, None),
            (json.dumps(self.event(occurred_at="0001-01-01T00:00:00+01:00")), 422, "/occurred_at"),
            (deep, 400, None),
        ]
        for raw, expected, place in cases:
            with self.subTest(body=raw[:60]):
                status, headers, body = self.post(EVENTS_URL, None, raw=raw)
                self.assertProblem(status, headers, body, expected)
                if place:
                    self.assertEqual(body["errors"][0]["pointer"], place)
        self.assertFalse(self.outside_events())
        self.assertFalse(self.env["res.partner"].search([("email", "=", "nul@example.com")]))

    def test_too_large_body_is_a_problem(self):
        event = self.event(payload={"padding": "x" * 70_000})
        status, headers, body = self.post(EVENTS_URL, event)
        self.assertProblem(status, headers, body, 413)
        self.assertFalse(self.outside_events())

    # ------------------------------------------------------------------
    # Least privilege, contract
    # ------------------------------------------------------------------

    def test_api_user_reads_nothing_over_xmlrpc(self):
        db = self.env.cr.dbname
        self.shipped_scenario()
        self.post(EVENTS_URL, self.event())
        self.env.flush_all()
        # Odoo accepts an API key in place of the password over RPC.
        uid = self.xmlrpc_common.authenticate(db, "event_api", self.api_key, {})
        self.assertEqual(uid, self.api_user.id)
        for model in (
            "res.partner",
            "email.automation.scenario",
            "email.automation.trace",
            "email.automation.participant",
            "email.automation.outside.event",
            "email.automation.consent",
        ):
            with self.subTest(model=model), self.assertRaises(xmlrpc.client.Fault) as fault:
                self.xmlrpc_object.execute_kw(db, uid, self.api_key, model, "search_read", [[]], {"limit": 1})
            self.assertEqual(fault.exception.faultCode, RPC_ACCESS_ERROR, fault.exception.faultString)

    def test_openapi_document_is_served_from_the_repository_and_valid(self):
        from openapi_spec_validator import validate

        response = self.url_open(OPENAPI_URL)
        self.assertEqual(response.status_code, 200)
        self.assertIn("application/json", response.headers["Content-Type"])
        with open(file_path("crm_email_automation/static/api/openapi.json"), encoding="utf-8") as document:
            self.assertEqual(response.json(), json.load(document))
        validate(response.json())
        self.assertEqual(response.json()["openapi"], "3.1.0")

    def test_postman_collection_is_generated_from_the_document(self):
        import subprocess
        import sys

        from ..controllers.event_api_input import validator

        script = os.path.join(os.path.dirname(file_path("crm_email_automation")), "tools", "make_postman_collection.py")
        checked = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True, check=False)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        with open(file_path("crm_email_automation/static/api/postman_collection.json"), encoding="utf-8") as collection:
            items = {item["request"]["url"]["raw"]: item["request"] for item in json.load(collection)["item"]}
        single = items["{{base_url}}/email_automation/api/v1/events"]
        batch = items["{{base_url}}/email_automation/api/v1/events/batch"]
        # The examples a user sends from Postman pass the API's own schema check.
        self.assertFalse(list(validator("Event").iter_errors(json.loads(single["body"]["raw"]))))
        self.assertFalse(list(validator("EventBatch").iter_errors(json.loads(batch["body"]["raw"]))))
