import json
from unittest.mock import patch

from odoo.modules import module as odoo_module
from odoo.tests import HttpCase, new_test_user

from .common import EmailAutomationCommon, warm_up_http_statics

EVENTS_URL = "/email_automation/api/v1/events"
BATCH_URL = "/email_automation/api/v1/events/batch"
OPENAPI_URL = "/email_automation/api/v1/openapi.json"
API_PASSWORD = "event-api-pw-31c9"


class EventApiCommon(EmailAutomationCommon, HttpCase):
    """An API user (only "E-mail Automation / API") with its key, a consent wording, and a
    running scenario on contacts triggered by the outside event "order_shipped" whose
    e-mail reads the event's payload."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        warm_up_http_statics()
        cls.api_user = new_test_user(
            cls.env, "event_api", password=API_PASSWORD, groups="crm_email_automation.group_api"
        )
        cls.api_key = cls.new_key(cls.api_user)
        cls.wording = cls.env["email.automation.consent.wording"].create(
            {"name": "Shop newsletter", "version": "shop-2026-01", "text": "<p>I agree to receive e-mails.</p>"}
        )
        cls.template_shipped = cls._create_template(
            "res.partner",
            subject="Order {{ payload.get('order_ref') }} shipped",
            subject_pl="Zamówienie {{ payload.get('order_ref') }} zostało wysłane",
            body="<p>Hello <t t-out='object.name'/>, track it at <t t-out=\"payload.get('tracking_url')\"/>.</p>",
            body_pl="<p>Dzień dobry, <t t-out='object.name'/>, przesyłkę można śledzić pod adresem "
            "<t t-out=\"payload.get('tracking_url')\"/>.</p>",
        )

    @classmethod
    def new_key(cls, user):
        # sudo + with_user: Odoo makes a key for the current user (see res.users.apikeys._generate).
        return cls.env["res.users.apikeys"].with_user(user).sudo()._generate(None, "test", False)

    def setUp(self):
        super().setUp()
        # The HTTP server's test cursor asks the running test to check it.
        self.startPatcher(patch.object(odoo_module, "current_test", self))

    def shipped_scenario(self, **values):
        return self.create_scenario(
            trigger="on_outside_event",
            outside_event_name="order_shipped",
            steps=[{"name": "Shipped", "trigger_type": "begin", "mail_template_id": self.template_shipped.id}],
            **values,
        )

    def post(self, url, data, key=None, headers=None, raw=None):
        """POST `data` as JSON with the API key; returns (status, headers, parsed body)."""
        self.env.flush_all()
        all_headers = {"Content-Type": "application/json"}
        if key is not False:
            all_headers["Authorization"] = f"Bearer {key or self.api_key}"
        all_headers.update(headers or {})
        body = raw if raw is not None else json.dumps(data)
        response = self.url_open(url, data=body, headers=all_headers, timeout=60)
        try:
            parsed = response.json()
        except ValueError:
            parsed = response.text
        return response.status_code, response.headers, parsed

    def event(self, partner=None, name="order_shipped", **values):
        return {
            "name": name,
            "target": {"model": "res.partner", "id": (partner or self.partner_pl).id},
            "payload": {"order_ref": "S00042", "tracking_url": "https://track.example.com/42"},
            "occurred_at": "2026-11-30T09:15:00+01:00",
            **values,
        }

    def assertProblem(self, status, headers, body, expected_status):
        self.assertEqual(status, expected_status, body)
        self.assertIn("application/problem+json", headers["Content-Type"])
        self.assertEqual(body["status"], expected_status)
        self.assertTrue(body["title"])
