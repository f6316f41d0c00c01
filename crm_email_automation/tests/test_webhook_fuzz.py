import base64
import json
import os
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from ..providers import mandrill_webhook
from .webhook_common import BREVO_PASSWORD, BREVO_TOKEN, BREVO_USER, MANDRILL_KEY, MANDRILL_URL, TS, WebhookCommon

BREVO_EVENTS = [
    "request", "delivered", "opened", "unique_opened", "proxy_open", "unique_proxy_open", "click",
    "hard_bounce", "soft_bounce", "blocked", "invalid_email", "deferred", "spam", "unsubscribed", "error",
]  # fmt: skip
MANDRILL_EVENTS = ["send", "deferral", "hard_bounce", "soft_bounce", "open", "click", "spam", "unsub", "reject"]

# Any JSON value, small: what a confused or hostile sender may put in a field.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# Header values: printable, Latin and beyond (sent as UTF-8 bytes); HTTP forbids line breaks.
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=0x17F), max_size=30)


@tagged("post_install", "-at_install")
class TestWebhookFuzz(WebhookCommon):
    """Whatever arrives, valid-looking or garbage, with or without valid credentials:
    never a 500, never a signal the intake fails to record, and a refused request changes
    nothing."""

    def setUp(self):
        super().setUp()
        self.message_ids = [t.provider_message_id for t in (self.trace_pl, self.trace_en, self.trace_md)]
        self.trace_ids = [t.id for t in (self.trace_pl, self.trace_en, self.trace_md)]

    def events(self, names, kind):
        """Lists of events naming our e-mails: well-formed ones, subtly wrong ones, garbage."""
        return st.one_of(
            st.lists(self.event(names, kind, valid=True), min_size=1, max_size=4),
            st.lists(
                self.event(names, kind, valid=True) | self.event(names, kind, valid=False) | json_values, max_size=4
            ),
        )

    def event(self, names, kind, valid):
        """One event; unless `valid`, any field may hold anything."""

        def field(good):
            return good if valid else good | json_values

        message_id = st.sampled_from([*self.message_ids, "<unknown@relay>"])
        ts = st.integers(TS - 10, TS + 10)
        emails = st.sampled_from(["jan@example.pl", "john@example.com"])
        if kind == "brevo":
            return st.fixed_dictionaries(
                {
                    "event": field(st.sampled_from(names)),
                    "email": field(emails),
                    "message-id": field(message_id),
                    "ts_event": field(ts),
                },
                optional={
                    "ts_epoch": field(st.integers(TS * 1000, TS * 1000 + 999)),
                    "link": field(st.sampled_from(["https://example.com/a", "https://example.com/b"])),
                    "reason": field(st.text(max_size=40).filter(lambda text: "\x00" not in text)),
                    "X-Mailin-custom": field(st.sampled_from([f"trace={i}" for i in self.trace_ids])),
                    "tags": json_values,
                },
            )
        msg = st.fixed_dictionaries(
            {"_id": field(message_id), "email": field(emails)},
            optional={
                "metadata": field(st.fixed_dictionaries({"trace": st.sampled_from(self.trace_ids)})),
                "bounce_description": field(st.sampled_from(["mailbox_full", "invalid_domain"])),
            },
        )
        return st.fixed_dictionaries(
            {"event": field(st.sampled_from(names)), "ts": field(ts), "msg": field(msg)},
            optional={"url": field(st.just("https://example.com/a"))},
        )

    def requests(self):
        brevo_auth = (
            st.sampled_from(
                [
                    f"Bearer {BREVO_TOKEN}",
                    f"Bearer {BREVO_TOKEN}",
                    "Basic " + base64.b64encode(f"{BREVO_USER}:{BREVO_PASSWORD}".encode()).decode(),
                    "Bearer wrong",
                    "Basic " + base64.b64encode(b"a:b").decode(),
                    "",
                ]
            )
            | header_text
        )
        brevo_body = (
            self.events(BREVO_EVENTS, "brevo").map(lambda e: json.dumps(e).encode())
            | self.events(BREVO_EVENTS, "brevo").map(lambda e: json.dumps(e[0] if e else {}).encode())
            | st.binary(max_size=200)
            | json_values.map(lambda v: json.dumps(v).encode())
        )
        brevo = st.fixed_dictionaries(
            {
                "kind": st.just("brevo"),
                "method": st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE"]),
                "auth": brevo_auth,
                "content_type": st.sampled_from(
                    ["application/json", "text/plain", "application/x-www-form-urlencoded"]
                ),
                "body": brevo_body,
            }
        )
        mandrill_fields = st.one_of(
            self.events(MANDRILL_EVENTS, "mandrill").map(lambda e: [("mandrill_events", json.dumps(e))]),
            st.lists(
                st.tuples(st.sampled_from(["mandrill_events", "x", "self", ""]), st.text(max_size=40)), max_size=3
            ),
        )
        mandrill = st.fixed_dictionaries(
            {
                "kind": st.just("mandrill"),
                "method": st.sampled_from(["POST"] * 8 + ["GET", "HEAD", "PUT"]),
                "signature": st.sampled_from(["valid", "valid", "valid", "wrong", "none"]) | header_text,
                "content_type": st.sampled_from(["application/x-www-form-urlencoded"] * 4 + ["application/json"]),
                "fields": mandrill_fields,
                "raw": st.none() | st.none() | st.binary(max_size=200),
            }
        )
        return brevo | mandrill

    def send(self, request):
        headers = {"Content-Type": request["content_type"]}
        if request["kind"] == "brevo":
            path = f"/email_automation/webhook/brevo/{self.brevo.id}"
            if request["auth"]:
                headers["Authorization"] = request["auth"].encode()
            body = request["body"]
        else:
            path = f"/email_automation/webhook/mandrill/{self.mandrill.id}"
            fields = request["fields"]
            signature = {
                "valid": mandrill_webhook.signature(MANDRILL_KEY, MANDRILL_URL, fields),
                "wrong": mandrill_webhook.signature("wrong", MANDRILL_URL, fields),
                "none": None,
            }.get(request["signature"], request["signature"])
            if signature:
                headers["X-Mandrill-Signature"] = signature.encode()
            body = request["raw"] if request["raw"] is not None else urlencode(fields).encode()
        return self.opener.request(request["method"], self.base_url() + path, data=body, headers=headers, timeout=30)

    def test_fuzzed_requests_never_fail_and_refusals_write_nothing(self):
        statuses = []
        recorded = []

        @settings(
            max_examples=int(os.environ.get("EA_FUZZ_EXAMPLES", 300)),
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        )
        @given(request=self.requests())
        def check(request):
            before = self.snapshot()
            response = self.send(request)
            statuses.append(response.status_code)
            self.assertLess(response.status_code, 500, request)
            # What the cron job does after the request's commit; no signal may fail.
            counts = self.record_intake()
            if response.status_code == 200 and request["method"] == "POST":
                self.assertEqual(counts["received"], response.json()["received"], request)
                recorded.append(counts["recorded"])
            else:
                self.assertEqual(counts["received"], 0, request)
            if response.status_code >= 400:
                self.assertEqual(self.snapshot(), before, request)
                if request["method"] != "HEAD" and response.headers.get("Content-Type", "").startswith(
                    "application/json"
                ):
                    self.assertEqual(list(response.json()), ["error"])

        check()
        # The generator reached both sides: accepted requests and refusals of each kind.
        self.assertIn(200, statuses)
        self.assertTrue(sum(recorded), "some generated events were recorded")
        self.assertTrue({400, 401, 403, 405} <= set(statuses), sorted(set(statuses)))
