import base64
import json
from unittest.mock import patch
from urllib.parse import urlencode

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase

from ..providers import mandrill_webhook
from .common import warm_up_http_statics
from .test_policy import PolicyCommon

BREVO_TOKEN = "brevo-bearer-7f3c1d9e2b"
BREVO_USER = "brevo-hook"
BREVO_PASSWORD = "brevo-pass-5a8e0c"
MANDRILL_KEY = "mandrill-key-Zq81xW"
MANDRILL_URL = "https://crm.example.com/email_automation/webhook/mandrill"
SECRETS = (BREVO_TOKEN, BREVO_PASSWORD, MANDRILL_KEY)
TS = 1763629200  # 2025-11-20 09:00:00 UTC
# What a run of the intake counts (`email.automation.intake._record`).
INTAKE_COUNTS = ("received", "recorded", "duplicates", "unknown", "failed")


class IntakeCase:
    """For HTTP test cases: record the tracking intake as its cron job would. No cron job
    runs in tests, and the requests' commits are only savepoints of the test's cursor."""

    def record_intake(self):
        """Record every signal waiting in the intake, batch after batch, as the cron job
        woken at the commit of a request does; return the counts of the run summed (all
        zero when nothing waited). A signal that fails to record fails the test: in
        production it would be left aside with its error, unrecorded."""
        Intake = self.env["email.automation.intake"].sudo()
        totals = dict.fromkeys(INTAKE_COUNTS, 0)
        while (counts := Intake._record()) is not None:
            for key in INTAKE_COUNTS:
                totals[key] += counts[key]
        # The recording wrote with SQL too: read everything anew.
        self.env.invalidate_all()
        if totals["failed"]:
            errors = Intake.search([("error", "!=", False)]).mapped("error")
            self.fail(f"{totals['failed']} tracking signal(s) failed to record: {errors}")
        return totals


class WebhookCommon(IntakeCase, PolicyCommon, HttpCase):
    """A Brevo and a Mandrill provider, and e-mails they sent to the Polish and English contacts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        Provider = cls.env["email.automation.provider"]
        cls.brevo = Provider.create(
            {
                "name": "Brevo",
                "kind": "brevo",
                "webhook_token": BREVO_TOKEN,
                "webhook_username": BREVO_USER,
                "webhook_password": BREVO_PASSWORD,
            }
        )
        cls.mandrill = Provider.create(
            {"name": "Mandrill", "kind": "mandrill", "webhook_key": MANDRILL_KEY, "webhook_url": MANDRILL_URL}
        )
        cls.grant(cls, cls.partner_pl | cls.partner_en)

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))
        # The counts of the intake run after the last request (see `post_brevo`).
        self.recorded = None
        self.scenario = self.create_scenario(name="Newsletter", category="marketing")
        self.trace_pl = self.sent_trace(self.partner_pl, self.brevo, "<202611200900.1@smtp-relay.mailin.fr>")
        self.trace_en = self.sent_trace(self.partner_en, self.brevo, "<202611200900.2@smtp-relay.mailin.fr>")
        self.trace_md = self.sent_trace(self.partner_en, self.mandrill, "abc123mandrill")

    def sent_trace(self, partner, provider, provider_message_id):
        participant = self.env["email.automation.participant"].create(
            {"scenario_id": self.scenario.id, "res_id": partner.id, "partner_id": partner.id, "state": "completed"}
        )
        return self.env["email.automation.trace"].create(
            {
                "participant_id": participant.id,
                "step_id": self.scenario.step_ids[0].id,
                "state": "sent",
                "sent_at": "2025-11-20 08:59:00",
                "email_to": partner.email,
                "message_id": f"<trace-{participant.id}@crm.example.com>",
                "provider_id": provider.id,
                "provider_message_id": provider_message_id,
            }
        )

    # ------------------------------------------------------------------
    # Requests
    # ------------------------------------------------------------------

    def brevo_event(self, event, trace, ts=TS, **values):
        return {
            "event": event,
            "email": trace.email_to,
            "message-id": trace.provider_message_id,
            "date": "2025-11-20 10:00:00",
            "ts_event": ts,
            "tags": ["crm"],
            "X-Mailin-custom": f"trace={trace.id}",
            **values,
        }

    def record_after(self, response):
        """Record the intake after `response`, as the cron job does after the request's
        commit; keep the counts in `self.recorded`. The run records exactly the events the
        request acknowledged: none for a refusal."""
        self.recorded = self.record_intake()
        acknowledged = response.json()["received"] if response.status_code == 200 else 0
        self.assertEqual(self.recorded["received"], acknowledged, "the intake holds what the request acknowledged")
        return response

    def post_brevo(self, payload, headers=None, provider=None, auth="bearer", record=True):
        """POST `payload` to the Brevo webhook, then records the intake as the cron job
        does after the commit (unless not `record`): the counts are in `self.recorded`."""
        headers = dict(headers or {})
        if auth == "bearer":
            headers.setdefault("Authorization", f"Bearer {BREVO_TOKEN}")
        elif auth == "basic":
            credentials = base64.b64encode(f"{BREVO_USER}:{BREVO_PASSWORD}".encode()).decode()
            headers.setdefault("Authorization", f"Basic {credentials}")
        body = json.dumps(payload).encode() if isinstance(payload, (dict, list)) else payload
        headers.setdefault("Content-Type", "application/json")
        response = self.url_open(
            f"/email_automation/webhook/brevo/{(provider or self.brevo).id}", data=body, headers=headers
        )
        return self.record_after(response) if record else response

    def mandrill_event(self, event, trace, ts=TS, msg=None, **values):
        return {
            "event": event,
            "ts": ts,
            "_id": trace.provider_message_id,
            "msg": {
                "_id": trace.provider_message_id,
                "email": trace.email_to,
                "ts": ts - 60,
                "state": "sent",
                "metadata": {"trace": str(trace.id)},
                "tags": ["crm"],
                **(msg or {}),
            },
            **values,
        }

    def post_mandrill(
        self, events, key=MANDRILL_KEY, url=MANDRILL_URL, provider=None, signature=None, fields=None, record=True
    ):
        """POST `events` (or the form `fields`) to the Mandrill webhook, signed with `key`
        over `url` (or `signature`), then records the intake as the cron job does after the
        commit (unless not `record`): the counts are in `self.recorded`."""
        fields = fields if fields is not None else [("mandrill_events", json.dumps(events))]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is None and key:
            signature = mandrill_webhook.signature(key, url, fields)
        if signature:
            headers["X-Mandrill-Signature"] = signature
        response = self.url_open(
            f"/email_automation/webhook/mandrill/{(provider or self.mandrill).id}",
            data=urlencode(fields),
            headers=headers,
        )
        return self.record_after(response) if record else response

    # ------------------------------------------------------------------
    # What a request may change
    # ------------------------------------------------------------------

    def snapshot(self):
        """Everything a webhook may write: intake rows, events, suppressions, consent,
        blacklist, traces."""
        self.env.flush_all()
        cr = self.env.cr
        queries = {
            "intake": "SELECT count(*) FROM email_automation_intake",
            "events": "SELECT count(*) FROM email_automation_event",
            "suppressions": """SELECT count(*), count(*) FILTER (WHERE is_suppressed),
                                      COALESCE(sum(soft_bounce_count), 0) FROM email_automation_suppression""",
            "consent": "SELECT count(*) FROM email_automation_consent",
            "blacklist": "SELECT count(*) FROM mail_blacklist WHERE active",
            "partners": "SELECT array_agg(email_consent_state ORDER BY id) FROM res_partner",
            "traces": """SELECT array_agg(ARRAY[delivered_at::text, opened_at::text, clicked_at::text,
                                              bounced_at::text, replied_at::text, open_count::text,
                                              machine_open_count::text, click_count::text] ORDER BY id)
                           FROM email_automation_trace""",
        }
        result = {}
        for name, query in queries.items():
            cr.execute(query)
            result[name] = cr.fetchall()
        return result

    def suppression(self, email):
        Suppression = self.env["email.automation.suppression"]
        return Suppression.search([("email_hash", "=", Suppression._hash(email))])
