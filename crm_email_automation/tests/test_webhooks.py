import base64
import json
import logging
from datetime import datetime

from odoo.tests import tagged

from ..providers import brevo_webhook, mandrill_webhook
from ..providers.webhook_events import WebhookError
from .common import EmailAutomationCommon
from .webhook_common import BREVO_TOKEN, SECRETS, TS, WebhookCommon

AT_TS = datetime(2025, 11, 20, 9, 0, 0)


@tagged("post_install", "-at_install")
class TestMandrillSignature(WebhookCommon):
    def test_signature_matches_the_documented_test_vector(self):
        fields = [("mandrill_events", "[]")]
        self.assertEqual(
            mandrill_webhook.signature("test-webhook", "https://example.com/hook", fields),
            "q1iFfhUSFU7Unr1lnKqKA1TGkbM=",
        )

    def test_signature_sorts_fields_and_rejects_wrong_or_missing_ones(self):
        fields = [("mandrill_events", "[]"), ("a", "1")]
        good = mandrill_webhook.signature("k", "https://h/x", fields)
        self.assertEqual(good, mandrill_webhook.signature("k", "https://h/x", list(reversed(fields))))
        mandrill_webhook.check_signature(good, "k", "https://h/x", fields)
        for given, key, url, status in [
            (good, "other", "https://h/x", 403),
            (good, "k", "https://h/y", 403),
            ("", "k", "https://h/x", 401),
            (good, "", "https://h/x", 403),
        ]:
            with self.assertRaises(WebhookError) as caught:
                mandrill_webhook.check_signature(given, key, url, fields)
            self.assertEqual(caught.exception.status, status)

    def test_vector_through_http_with_a_provider_configured_that_way(self):
        self.mandrill.write({"webhook_key": "test-webhook", "webhook_url": "https://example.com/hook"})
        response = self.post_mandrill(
            [], key=None, signature="q1iFfhUSFU7Unr1lnKqKA1TGkbM=", fields=[("mandrill_events", "[]")]
        )
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "received": 0}))
        # The same key and URL sign a real batch; a tampered body no longer matches.
        events = json.dumps([self.mandrill_event("open", self.trace_md)])
        signature = mandrill_webhook.signature(
            "test-webhook", "https://example.com/hook", [("mandrill_events", events)]
        )
        before = self.snapshot()
        tampered = events.replace('"open"', '"click"')
        response = self.post_mandrill(None, key=None, signature=signature, fields=[("mandrill_events", tampered)])
        self.assertEqual((response.status_code, response.json()), (403, {"error": "invalid signature"}))
        self.assertEqual(self.snapshot(), before)
        response = self.post_mandrill(None, key=None, signature=signature, fields=[("mandrill_events", events)])
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "received": 1}))
        self.assertEqual(self.recorded["recorded"], 1)
        self.assertEqual(self.trace_md.open_count, 1)


@tagged("post_install", "-at_install")
class TestBrevoWebhook(WebhookCommon):
    def test_delivery_opens_and_clicks_fill_the_trace(self):
        self.env["email.automation.suppression"]._register_bounce([self.trace_pl.email_to], hard=False)
        self.assertEqual(self.suppression("jan@example.pl").soft_bounce_count, 1)
        events = [
            self.brevo_event("request", self.trace_pl, ts=TS - 60),
            self.brevo_event("delivered", self.trace_pl),
            # Brevo reports the first open twice (opened and unique_opened): one open.
            self.brevo_event("unique_opened", self.trace_pl, ts=TS + 60),
            self.brevo_event("opened", self.trace_pl, ts=TS + 60),
            self.brevo_event("opened", self.trace_pl, ts=TS + 3600),
            self.brevo_event("proxy_open", self.trace_pl, ts=TS + 5),
            self.brevo_event("unique_proxy_open", self.trace_pl, ts=TS + 5),
            self.brevo_event("click", self.trace_pl, ts=TS + 120, link="https://example.com/offer"),
            self.brevo_event("click", self.trace_pl, ts=TS + 120, link="https://example.com/other"),
        ]
        response = self.post_brevo(events)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok", "received": 9})
        self.assertEqual(self.recorded, {"received": 9, "recorded": 7, "duplicates": 2, "unknown": 0, "failed": 0})
        trace = self.trace_pl
        self.assertEqual(trace.delivered_at, AT_TS)
        self.assertEqual(trace.opened_at, datetime(2025, 11, 20, 9, 1))
        self.assertEqual(trace.clicked_at, datetime(2025, 11, 20, 9, 2))
        self.assertEqual((trace.open_count, trace.machine_open_count, trace.click_count), (2, 1, 2))
        self.assertFalse(trace.bounced_at)
        self.assertEqual(
            sorted(trace.event_ids.mapped("event_type")),
            ["click", "click", "delivered", "machine_open", "open", "open", "sent"],
        )
        click = trace.event_ids.filtered(lambda e: e.url == "https://example.com/offer")
        self.assertEqual((click.provider_id, click.provider_event), (self.brevo, "click"))
        self.assertEqual(click.message_id, "202611200900.1@smtp-relay.mailin.fr")
        self.assertEqual(click.scenario_id, self.scenario)
        self.assertEqual(self.suppression("jan@example.pl").soft_bounce_count, 0, "a delivery ends the run")
        self.assertFalse(self.trace_en.event_ids, "only the named e-mail changes")

    def test_a_request_is_acknowledged_at_once_and_its_events_recorded_by_the_intake(self):
        Intake = self.env["email.automation.intake"].sudo()
        cron = self.env.ref("crm_email_automation.ir_cron_record_intake")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        events = [self.brevo_event("delivered", self.trace_pl), self.brevo_event("opened", self.trace_pl, ts=TS + 60)]
        before = self.snapshot()
        response = self.post_brevo(events, record=False)
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "received": 2}))
        # One row for the request, and the cron job woken: no event yet, no trace changed.
        signal = Intake.search([])
        self.assertEqual(len(signal), 1)
        self.assertEqual((signal.kind, signal.provider_id, signal.error), ("webhook", self.brevo, False))
        self.assertEqual([event["event_type"] for event in signal.events], ["delivered", "open"])
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1)
        self.assertEqual(self.snapshot(), {**before, "intake": [(1,)]})
        self.assertFalse(self.trace_pl.event_ids)
        self.assertEqual((self.trace_pl.delivered_at, self.trace_pl.open_count), (False, 0))

        # What the cron job does: both events recorded, the row gone.
        counts = Intake._record()
        self.assertEqual(counts, {"received": 2, "recorded": 2, "duplicates": 0, "unknown": 0, "failed": 0})
        self.assertIsNone(Intake._record(), "nothing waits any more")
        self.env.invalidate_all()
        self.assertFalse(Intake.search([]))
        self.assertEqual(sorted(self.trace_pl.event_ids.mapped("event_type")), ["delivered", "open"])
        trace = self.trace_pl
        self.assertEqual(
            (trace.delivered_at, trace.opened_at, trace.open_count), (AT_TS, datetime(2025, 11, 20, 9, 1), 1)
        )
        after = self.snapshot()

        # A refused request leaves no row.
        response = self.post_brevo(events, headers={"Authorization": "Bearer wrong-token"}, auth=None, record=False)
        self.assertEqual((response.status_code, response.json()), (403, {"error": "invalid credentials"}))
        self.assertFalse(Intake.search([]))
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1)

        # The same events again: acknowledged and queued alike, recorded as duplicates.
        response = self.post_brevo(events, auth="basic", record=False)
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "received": 2}))
        self.assertEqual(len(Intake.search([])), 1)
        counts = self.record_intake()
        self.assertEqual(counts, {"received": 2, "recorded": 0, "duplicates": 2, "unknown": 0, "failed": 0})
        self.assertEqual(self.snapshot(), after)

    def test_a_click_without_a_recorded_open_sets_the_open_time(self):
        self.post_brevo(self.brevo_event("click", self.trace_pl, link="https://example.com/"))
        self.assertEqual((self.trace_pl.clicked_at, self.trace_pl.opened_at), (AT_TS, AT_TS))
        self.assertEqual(self.trace_pl.open_count, 0)

    def test_hard_bounce_with_basic_auth_suppresses_at_once(self):
        response = self.post_brevo(
            self.brevo_event("hard_bounce", self.trace_pl, reason="550 no such user"), auth="basic"
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.trace_pl.bounced_at, AT_TS)
        self.assertEqual(self.trace_pl.event_ids.detail, "550 no such user")
        suppression = self.suppression("jan@example.pl")
        self.assertEqual((suppression.is_suppressed, suppression.reason), (True, "hard_bounce"))

    def test_invalid_email_suppresses_like_a_hard_bounce(self):
        self.post_brevo(self.brevo_event("invalid_email", self.trace_en))
        self.assertEqual(self.suppression("john@example.com").reason, "hard_bounce")
        self.assertEqual(self.trace_en.bounced_at, AT_TS)

    def test_soft_bounces_suppress_after_the_run(self):
        for index in range(2):
            self.post_brevo(self.brevo_event("soft_bounce", self.trace_pl, ts=TS + index, reason="mailbox full"))
        suppression = self.suppression("jan@example.pl")
        self.assertEqual((suppression.soft_bounce_count, suppression.is_suppressed), (2, False))
        self.post_brevo(self.brevo_event("soft_bounce", self.trace_pl, ts=TS + 2, reason="mailbox full"))
        self.assertEqual((suppression.is_suppressed, suppression.reason), (True, "soft_bounce"))
        self.assertEqual(self.trace_pl.bounced_at, AT_TS)

    def test_spam_complaint_suppresses_and_unsubscribe_withdraws_consent(self):
        response = self.post_brevo(
            [self.brevo_event("spam", self.trace_en), self.brevo_event("unsubscribed", self.trace_pl)]
        )
        self.assertEqual(response.json(), {"status": "ok", "received": 2})
        self.assertEqual(self.recorded["recorded"], 2)
        self.assertEqual(self.suppression("john@example.com").reason, "complaint")
        self.assertFalse(self.suppression("jan@example.pl"))
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        entry = self.partner_pl.email_consent_ids.sorted("id")[-1]
        self.assertEqual((entry.event, entry.source), ("withdrawn", "webhook"))
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "jan@example.pl")]))
        self.assertEqual(self.partner_en.email_consent_state, "granted")

    def test_blocked_deferred_and_error_are_recorded_with_their_reason(self):
        self.post_brevo(
            [
                self.brevo_event("blocked", self.trace_pl, reason="blocked: previous hard bounce"),
                self.brevo_event("deferred", self.trace_pl, ts=TS + 1, reason="greylisted"),
                self.brevo_event("error", self.trace_pl, ts=TS + 2, reason="sender not valid"),
            ]
        )
        details = {event.event_type: event.detail for event in self.trace_pl.event_ids}
        self.assertEqual(
            details,
            {"blocked": "blocked: previous hard bounce", "deferred": "greylisted", "error": "sender not valid"},
        )
        self.assertFalse(self.trace_pl.delivered_at or self.trace_pl.bounced_at)

    def test_ts_epoch_in_milliseconds_wins_over_ts_event(self):
        self.post_brevo(self.brevo_event("delivered", self.trace_pl, ts_epoch=(TS + 30) * 1000 + 250))
        self.assertEqual(self.trace_pl.delivered_at, datetime(2025, 11, 20, 9, 0, 30))

    def test_replay_changes_nothing_twice(self):
        events = [
            self.brevo_event("delivered", self.trace_pl),
            self.brevo_event("opened", self.trace_pl, ts=TS + 1),
            self.brevo_event("click", self.trace_pl, ts=TS + 2, link="https://example.com/"),
            self.brevo_event("soft_bounce", self.trace_en),
            self.brevo_event("spam", self.trace_en, ts=TS + 3),
            self.brevo_event("unsubscribed", self.trace_pl, ts=TS + 4),
        ]
        self.post_brevo(events)
        self.assertEqual((self.recorded["recorded"], self.recorded["duplicates"]), (6, 0))
        after_first = self.snapshot()
        self.post_brevo(events, auth="basic")
        self.assertEqual((self.recorded["recorded"], self.recorded["duplicates"]), (0, 6))
        one_by_one = []
        for event in events:
            self.post_brevo(event)
            one_by_one.append((self.recorded["recorded"], self.recorded["duplicates"]))
        self.assertEqual(one_by_one, [(0, 1)] * 6)
        self.assertEqual(self.snapshot(), after_first)
        self.assertEqual((self.trace_pl.open_count, self.trace_pl.click_count), (1, 1))
        self.assertEqual(self.suppression("john@example.com").soft_bounce_count, 1)
        self.assertEqual(len(self.partner_pl.email_consent_ids.filtered(lambda e: e.source == "webhook")), 1)

    def test_unknown_message_ids_are_acknowledged_not_stored(self):
        stranger = {
            "event": "delivered",
            "email": "someone@example.org",
            "message-id": "<unknown@smtp-relay.mailin.fr>",
            "ts_event": TS,
        }
        before = self.snapshot()
        response = self.post_brevo([stranger, self.brevo_event("delivered", self.trace_pl)])
        self.assertEqual(response.json(), {"status": "ok", "received": 2})
        self.assertEqual(self.recorded, {"received": 2, "recorded": 1, "duplicates": 0, "unknown": 1, "failed": 0})
        self.assertEqual(self.snapshot()["events"][0][0], before["events"][0][0] + 1)

    def test_message_ids_match_with_or_without_angle_brackets(self):
        event = self.brevo_event("delivered", self.trace_pl, **{"message-id": "202611200900.1@smtp-relay.mailin.fr"})
        self.post_brevo(event)
        self.assertEqual(self.recorded["recorded"], 1)
        self.trace_en.provider_message_id = "202611200900.2@smtp-relay.mailin.fr"
        self.post_brevo(
            self.brevo_event("delivered", self.trace_en, **{"message-id": "<202611200900.2@smtp-relay.mailin.fr>"})
        )
        self.assertEqual(self.recorded["recorded"], 1)
        self.assertTrue(self.trace_pl.delivered_at and self.trace_en.delivered_at)

    def test_trace_id_in_the_custom_header_is_a_fallback_for_this_providers_traces_only(self):
        self.trace_pl.provider_message_id = False
        event = self.brevo_event("delivered", self.trace_pl, **{"message-id": "<new@smtp-relay.mailin.fr>"})
        self.post_brevo(event)
        self.assertEqual(self.recorded["recorded"], 1)
        self.assertEqual(self.trace_pl.delivered_at, AT_TS)
        # A Brevo event naming the Mandrill e-mail's trace does not touch it.
        foreign = self.brevo_event("opened", self.trace_md, **{"message-id": "<x@smtp-relay.mailin.fr>"})
        self.post_brevo(foreign)
        self.assertEqual((self.recorded["recorded"], self.recorded["unknown"]), (0, 1))
        self.assertFalse(self.trace_md.event_ids)

    def test_wrong_or_missing_credentials_write_nothing(self):
        event = self.brevo_event("hard_bounce", self.trace_pl)
        wrong_basic = base64.b64encode(b"brevo-hook:guess").decode()
        before = self.snapshot()
        for headers, status in [
            ({}, 401),
            ({"Authorization": "Bearer wrong-token"}, 403),
            ({"Authorization": f"Bearer {BREVO_TOKEN}x"}, 403),
            ({"Authorization": f"Basic {wrong_basic}"}, 403),
            ({"Authorization": "Basic !!!notbase64"}, 403),
            ({"Authorization": f"Token {BREVO_TOKEN}"}, 401),
            ({"Authorization": "Bearer zażółć".encode()}, 403),
        ]:
            response = self.post_brevo(event, headers=headers, auth=None)
            self.assertEqual(response.status_code, status, headers)
            self.assertIn("error", response.json())
            self.assertNotIn(BREVO_TOKEN, response.text)
        self.assertEqual(self.snapshot(), before)
        self.assertFalse(self.trace_pl.bounced_at)

    def test_a_provider_without_webhook_credentials_rejects_everything(self):
        bare = self.env["email.automation.provider"].create({"name": "Bare Brevo", "kind": "brevo"})
        trace = self.sent_trace(self.partner_pl, bare, "<bare@smtp-relay.mailin.fr>")
        response = self.post_brevo(self.brevo_event("delivered", trace), provider=bare)
        # Answered as wrong credentials: a stranger does not learn how it is configured.
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json(), {"error": "invalid credentials"})
        self.assertFalse(trace.event_ids)

    def test_a_changed_token_or_archived_provider_applies_to_the_next_request(self):
        # The webhook settings are cached between requests: each change must reach them.
        event = self.brevo_event("deferred", self.trace_pl)
        self.assertEqual(self.post_brevo(event).status_code, 200)
        self.brevo.webhook_token = "rotated-token-5d1e"
        self.assertEqual(self.post_brevo(event).status_code, 403)
        response = self.post_brevo(event, headers={"Authorization": "Bearer rotated-token-5d1e"}, auth=None)
        self.assertEqual(response.status_code, 200)
        self.brevo.action_archive()
        response = self.post_brevo(event, headers={"Authorization": "Bearer rotated-token-5d1e"}, auth=None)
        # An archived provider is an unknown one, answered as wrong credentials.
        self.assertEqual((response.status_code, response.json()), (403, {"error": "invalid credentials"}))
        self.brevo.action_unarchive()
        response = self.post_brevo(event, headers={"Authorization": "Bearer rotated-token-5d1e"}, auth=None)
        self.assertEqual(response.status_code, 200)
        self.assertEqual((self.recorded["recorded"], self.recorded["duplicates"]), (0, 1))

    def test_bad_input_gets_a_4xx_and_writes_nothing(self):
        good = self.brevo_event("delivered", self.trace_pl)
        cases = [
            (b"{not json", 400),
            (b"\xff\xfe garbage", 400),
            (b"[" * 50000, 400),
            (json.dumps([good, 42]).encode(), 400),
            (json.dumps([good, {**good, "event": "teleported"}]).encode(), 400),
            (json.dumps([good, {**good, "ts_event": "1763629200"}]).encode(), 400),
            (json.dumps([good, {**good, "email": 12}]).encode(), 400),
            (json.dumps([good, {**good, "message-id": ["x"]}]).encode(), 400),
            (json.dumps([good, {**good, "reason": "mailbox\u0000full"}]).encode(), 400),
            (json.dumps([good, {**good, "ts_event": 10**30}]).encode(), 400),
            (json.dumps([good, {k: v for k, v in good.items() if k != "ts_event"}]).encode(), 400),
            (json.dumps([good] * 1001).encode(), 413),
            (b"NaN", 400),
        ]
        before = self.snapshot()
        for body, status in cases:
            response = self.post_brevo(body)
            self.assertEqual(response.status_code, status, body[:80])
            self.assertEqual(list(response.json()), ["error"])
        self.assertEqual(self.snapshot(), before)

    def test_wrong_method_unknown_provider_and_oversized_body(self):
        path = f"/email_automation/webhook/brevo/{self.brevo.id}"
        response = self.url_open(path)
        self.assertEqual((response.status_code, response.headers["Allow"]), (405, "POST"))
        self.assertEqual(self.opener.delete(self.base_url() + path, timeout=10).status_code, 405)
        for provider_path in [
            "/email_automation/webhook/brevo/999999",
            f"/email_automation/webhook/brevo/{self.mandrill.id}",
        ]:
            response = self.url_open(provider_path, data=b"{}")
            # As a known provider without credentials in the request: no enumeration.
            self.assertEqual((response.status_code, response.json()), (401, {"error": "authentication required"}))
        form = self.post_brevo(b"event=delivered", headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((form.status_code, form.json()), (415, {"error": "expected JSON (application/json)"}))
        before = self.snapshot()
        big = json.dumps([self.brevo_event("delivered", self.trace_pl, detail="x" * 1024)] * 1100).encode()
        self.assertGreater(len(big), brevo_webhook.MAX_BODY)
        response = self.post_brevo(big)
        self.assertEqual((response.status_code, response.json()), (413, {"error": "request body too large"}))
        # Chunked, without a Content-Length: refused all the same once past the limit.
        response = self.post_brevo(iter([big[i : i + 65536] for i in range(0, len(big), 65536)]))
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self.snapshot(), before)

    def test_secrets_never_reach_the_logs(self):
        root = logging.getLogger()
        records = []
        handler = logging.Handler(level=logging.DEBUG)
        handler.emit = lambda record: records.append((record.name, handler.format(record)))
        levels = {name: logging.getLogger(name).level for name in ("", "odoo", "werkzeug")}
        root.addHandler(handler)
        for name in levels:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            self.post_brevo(self.brevo_event("delivered", self.trace_pl))
            self.post_brevo(self.brevo_event("delivered", self.trace_pl), auth="basic")
            self.post_brevo(b"{bad", headers={"Authorization": f"Bearer {BREVO_TOKEN}"})
            self.post_brevo(self.brevo_event("opened", self.trace_pl), headers={"Authorization": "Bearer nope"})
            self.post_mandrill([self.mandrill_event("open", self.trace_md)])
            self.post_mandrill([self.mandrill_event("open", self.trace_md)], key="guess")
            self.post_mandrill([{"event": "bogus"}])
        finally:
            root.removeHandler(handler)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
        self.assertTrue(any("refused" in line for _name, line in records), "the refusals were logged")
        for secret in SECRETS:
            self.assertFalse([line for _name, line in records if secret in line], "a secret reached the logs")
        # Nor the recipients' addresses (Odoo's own SQL debug log shows query parameters).
        self.assertFalse(
            [line for name, line in records if name != "odoo.sql_db" and ("jan@example.pl" in line or "john@" in line)]
        )


@tagged("post_install", "-at_install")
class TestMandrillWebhook(WebhookCommon):
    def test_head_answers_200_and_the_creation_test_is_acknowledged(self):
        path = f"/email_automation/webhook/mandrill/{self.mandrill.id}"
        self.assertEqual(self.opener.head(self.base_url() + path, timeout=10).status_code, 200)
        # Any id answers alike: which ones exist is not told.
        self.assertEqual(
            self.opener.head(self.base_url() + "/email_automation/webhook/mandrill/999999").status_code, 200
        )
        response = self.post_mandrill(None, key=None, fields=[("mandrill_events", "[]")])
        self.assertEqual(response.status_code, 200)
        response = self.opener.get(self.base_url() + path, timeout=10)
        self.assertEqual((response.status_code, response.headers["Allow"]), (405, "POST, HEAD"))
        self.assertEqual(self.opener.put(self.base_url() + path, data=b"x", timeout=10).status_code, 405)

    def test_signed_batch_updates_the_traces(self):
        trace_pl = self.sent_trace(self.partner_pl, self.mandrill, "def456mandrill")
        events = [
            self.mandrill_event("send", self.trace_md, ts=TS - 60),
            self.mandrill_event("deferral", self.trace_md, ts=TS - 30),
            self.mandrill_event("open", self.trace_md),
            self.mandrill_event("click", self.trace_md, ts=TS + 10, url="https://example.com/offer"),
            self.mandrill_event("spam", self.trace_md, ts=TS + 20),
            self.mandrill_event("soft_bounce", trace_pl, msg={"bounce_description": "mailbox_full"}),
            self.mandrill_event("hard_bounce", trace_pl, ts=TS + 1, msg={"diag": "smtp;550 5.1.1 unknown"}),
            self.mandrill_event("unsub", trace_pl, ts=TS + 2),
            self.mandrill_event("reject", trace_pl, ts=TS + 3, msg={"reject_reason": "hard-bounce"}),
        ]
        response = self.post_mandrill(events)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "ok", "received": 9})
        self.assertEqual(self.recorded["recorded"], 9)
        self.assertEqual((self.trace_md.opened_at, self.trace_md.open_count, self.trace_md.click_count), (AT_TS, 1, 1))
        self.assertEqual(self.trace_md.clicked_at, datetime(2025, 11, 20, 9, 0, 10))
        self.assertEqual(self.suppression("john@example.com").reason, "complaint")
        self.assertEqual(self.suppression("jan@example.pl").reason, "hard_bounce")
        self.assertEqual(trace_pl.bounced_at, AT_TS)
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        details = {event.event_type: event.detail for event in trace_pl.event_ids}
        self.assertEqual(details["soft_bounce"], "mailbox_full")
        self.assertEqual(details["hard_bounce"], "smtp;550 5.1.1 unknown")
        self.assertEqual(details["rejected"], "hard-bounce")
        self.assertEqual(self.trace_md.event_ids.mapped("provider_event")[-1], "send")
        # Replayed: nothing changes twice.
        before = self.snapshot()
        self.post_mandrill(events)
        self.assertEqual((self.recorded["recorded"], self.recorded["duplicates"]), (0, 9))
        self.assertEqual(self.snapshot(), before)

    def test_metadata_trace_is_a_fallback_and_unknown_ids_are_acknowledged(self):
        event = self.mandrill_event("open", self.trace_md)
        event["msg"]["_id"] = "renamed-by-mandrill"
        stranger = self.mandrill_event("open", self.trace_md)
        stranger["msg"].update(_id="nobody", metadata={})
        response = self.post_mandrill([event, stranger])
        self.assertEqual(response.json(), {"status": "ok", "received": 2})
        self.assertEqual(self.recorded, {"received": 2, "recorded": 1, "duplicates": 0, "unknown": 1, "failed": 0})
        self.assertEqual(self.trace_md.open_count, 1)

    def test_missing_or_wrong_signature_and_bad_forms_write_nothing(self):
        events = [self.mandrill_event("hard_bounce", self.trace_md)]
        good = json.dumps(events)
        before = self.snapshot()
        cases = [
            ({"key": None}, 401),
            ({"key": "wrong-key"}, 403),
            ({"url": "https://elsewhere.example.com/hook"}, 403),
            ({"fields": [("mandrill_events", good), ("mandrill_events", good)]}, 400),
            ({"fields": [("other", "x")]}, 400),
            ({"fields": [("mandrill_events", "{not json")]}, 400),
            ({"fields": [("mandrill_events", '{"event": "open"}')]}, 400),
            ({"fields": [("mandrill_events", "[1, 2]")]}, 400),
            ({"fields": [("mandrill_events", json.dumps([{**events[0], "event": "whitelist"}]))]}, 400),
            ({"fields": [("mandrill_events", json.dumps([{**events[0], "ts": "1763629200"}]))]}, 400),
            ({"fields": [("mandrill_events", json.dumps([{**events[0], "msg": "x"}]))]}, 400),
            ({"fields": [("mandrill_events", json.dumps(events * 1001))]}, 413),
            ({"fields": [("mandrill_events", good), ("self", "1")]}, 200),
        ]
        for kwargs, status in cases:
            response = self.post_mandrill(events, **kwargs)
            self.assertEqual(response.status_code, status, kwargs)
            if status != 200:
                self.assertEqual(list(response.json()), ["error"])
                self.assertEqual(self.snapshot(), before, kwargs)
        response = self.url_open(
            f"/email_automation/webhook/mandrill/{self.mandrill.id}",
            data=json.dumps(events),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 415)

    def test_oversized_body_is_refused(self):
        before = self.snapshot()
        big = "x" * (mandrill_webhook.MAX_BODY + 1)
        response = self.post_mandrill(None, fields=[("mandrill_events", big)])
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self.snapshot(), before)


@tagged("post_install", "-at_install")
class TestReplyTracking(EmailAutomationCommon):
    """Odoo's own mail gateway: a reply to an automation e-mail is recorded on its trace."""

    def reply(self, trace, message_id="<reply-1@example.com>", date="Thu, 20 Nov 2025 10:00:00 +0000"):
        return (
            "From: John Smith <john@example.com>\r\n"
            "To: sales@example.com\r\n"
            "Subject: Re: Welcome John Smith\r\n"
            f"Message-Id: {message_id}\r\n"
            f"In-Reply-To: {trace.message_id}\r\n"
            f"References: <older@example.com> {trace.message_id}\r\n"
            f"Date: {date}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "Thanks, I am interested.\r\n"
        )

    def test_a_reply_sets_replied_at_once_and_records_an_event(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.assertEqual(trace.state, "sent")
        self.assertTrue(trace.message_id)
        self.env["mail.thread"].message_process(None, self.reply(trace))
        self.assertEqual(trace.replied_at, datetime(2025, 11, 20, 10, 0, 0))
        self.assertEqual(trace.event_ids.mapped("event_type"), ["reply"])
        self.assertEqual(trace.event_ids.email, '"John Smith" <john@example.com>')
        # A second reply is recorded too; the first reply time stays.
        self.env["mail.thread"].message_process(
            None, self.reply(trace, "<reply-2@example.com>", "Fri, 21 Nov 2025 10:00:00 +0000")
        )
        self.assertEqual(len(trace.event_ids), 2)
        self.assertEqual(trace.replied_at, datetime(2025, 11, 20, 10, 0, 0))
        # The reply still reaches the contact's chatter.
        self.assertIn("Thanks, I am interested.", "".join(self.partner_en.message_ids.mapped("body")))

    def test_other_mail_records_nothing(self):
        scenario = self.create_scenario()
        scenario._enrol(self.partner_en.ids)
        self.run_queue()
        trace = scenario.participant_ids.trace_ids
        self.env["email.automation.event"]._record_reply(
            {"in_reply_to": "<unrelated@example.com>", "references": "", "message_id": "<x@example.com>"}
        )
        self.assertFalse(trace.event_ids or trace.replied_at)
