from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.tests import tagged

from ..models.email_automation_mail_tracking import is_tracked_url
from .test_policy import PolicyCommon

SENT = datetime(2026, 6, 10, 10, 0)
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"


@tagged("post_install", "-at_install")
class TestTrackingRules(PolicyCommon):
    """How the pixel and the tracked links are classified and written, with time under control."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config.set_param("crm_email_automation.quiet_hours", False)
        cls.grant(cls, cls.partner_pl | cls.partner_en)
        cls.template_partner.body_html = (
            "<p>Hi <a href='https://shop.example.com/a'>A</a> <a href='https://shop.example.com/b'>B</a></p>"
        )

    def setUp(self):
        super().setUp()
        self.scenario = self.marketing_scenario()
        traces = self.send_now(self.scenario, self.partner_pl | self.partner_en, when=SENT)
        self.trace, self.other = traces.sorted("id")
        self.Event = self.env["email.automation.event"]

    def at(self, seconds):
        return freeze_time(SENT + timedelta(seconds=seconds))

    def test_open_within_a_minute_of_sending_or_delivery_is_a_machine_open(self):
        with self.at(59):
            self.assertEqual(self.Event._track_open(self.trace.id, BROWSER), "machine_open")
        with self.at(61):
            self.assertEqual(self.Event._track_open(self.trace.id, BROWSER), "open")
        self.assertEqual(self.trace.opened_at, SENT + timedelta(seconds=61))
        self.assertEqual((self.trace.open_count, self.trace.machine_open_count), (1, 1))
        # Delivery reported by a provider later than sending: the prefetch follows delivery.
        self.other.delivered_at = SENT + timedelta(minutes=5)
        with self.at(5 * 60 + 30):
            self.assertEqual(self.Event._track_open(self.other.id, BROWSER), "machine_open")
        self.assertFalse(self.other.opened_at)

    def test_same_second_fetches_count_once_and_unsent_traces_record_nothing(self):
        with self.at(120):
            self.Event._track_open(self.trace.id, BROWSER)
            self.Event._track_open(self.trace.id, BROWSER)
        self.assertEqual(self.trace.open_count, 1)
        self.assertEqual(len(self.trace.event_ids), 1)
        self.other.flush_recordset()
        self.env.cr.execute("UPDATE email_automation_trace SET sent_at = NULL WHERE id = %s", [self.other.id])
        self.assertIsNone(self.Event._track_open(self.other.id, BROWSER))
        self.assertIsNone(self.Event._track_click(10**9, "https://shop.example.com/a", BROWSER))

    def test_click_soon_after_sending_or_in_a_burst_of_links_is_a_machine_click(self):
        a, b = "https://shop.example.com/a", "https://shop.example.com/b"
        with self.at(29):
            self.assertEqual(self.Event._track_click(self.trace.id, a, BROWSER), "machine_click")
        with self.at(600):
            self.assertEqual(self.Event._track_click(self.trace.id, a, BROWSER), "click")
        with self.at(604):
            # Another link of the same e-mail within seconds: a scanner opening every link.
            self.assertEqual(self.Event._track_click(self.trace.id, b, BROWSER), "machine_click")
        with self.at(700):
            self.assertEqual(self.Event._track_click(self.trace.id, b, BROWSER), "click")
            self.assertEqual(self.Event._track_click(self.other.id, a, "python-requests/2.31"), "machine_click")
            self.assertEqual(self.Event._track_click(self.other.id, b, BROWSER, is_head=True), "machine_click")
        self.assertEqual(self.trace.clicked_at, SENT + timedelta(seconds=600))
        self.assertEqual(self.trace.opened_at, SENT + timedelta(seconds=600), "a click implies an open")
        self.assertEqual((self.trace.click_count, self.trace.machine_click_count), (2, 2))
        self.assertFalse(self.other.clicked_at)

    def test_links_of_a_batch_share_one_tracker_per_url(self):
        trackers = self.env["link.tracker"].search([("url", "like", "https://shop.example.com/")])
        self.assertEqual(sorted(trackers.mapped("url")), ["https://shop.example.com/a", "https://shop.example.com/b"])
        self.assertTrue(all(t.title for t in trackers), "titled, never fetched")

    def test_which_urls_are_tracked(self):
        self.assertTrue(is_tracked_url("https://shop.example.com/offer"))
        for url in (
            "mailto:a@example.com",
            "tel:+48221234567",
            "#top",
            "ftp://files.example.com/x",
            "https://crm.example.com/email_automation/unsubscribe/abc",
            "https://crm.example.com/email_automation/consent/confirm/abc",
            "https://crm.example.com/r/abc",
            "https://news.example.com/Unsubscribe?id=1",
            "javascript:alert(1)",
        ):
            self.assertFalse(is_tracked_url(url), url)

    def test_provider_does_not_track_again_an_e_mail_that_tracks_itself(self):
        provider = self.env["email.automation.provider"].create(
            {"name": "Mandrill", "kind": "mandrill", "api_key": "k", "track_opens": True, "track_clicks": True}
        )
        sender = self.env["email.automation.mail.sender"]
        envelope = {
            "trace": self.trace,
            "email_from": "sales@example.com",
            "email_to": "jan@example.pl",
            "body_html": "<p>x</p>",
        }
        self.assertTrue(sender._outgoing_email(provider, dict(envelope)).track_opens)
        sender._add_tracking([envelope])
        email = sender._outgoing_email(provider, envelope)
        self.assertFalse(email.track_opens or email.track_clicks)
        self.assertIn(f"/email_automation/track/{self.trace.id}/", email.html)
