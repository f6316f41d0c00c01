"""The intake of tracking signals: the pixel and tracked links answer after one insert, and
the cron job's `_record` turns the waiting signals into tracking events, in batches."""

import threading
from datetime import timedelta, timezone

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..providers.webhook_events import WebhookEvent
from .common import CommittedDataCase
from .cron_listener import cron_notifications, listen_cron_trigger
from .mail_client import BROWSER
from .tracking_common import OFFER, TrackingCommon

INTAKE_CRON = "crm_email_automation.ir_cron_record_intake"
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel)"


def epoch_ms(moment):
    """A naive UTC datetime as a webhook's milliseconds since the epoch, to the second."""
    return int(moment.replace(tzinfo=timezone.utc).timestamp()) * 1000


@tagged("post_install", "-at_install")
class TestIntake(TrackingCommon):
    """Pixel fetches and clicks through Odoo's HTTP server, waiting in the intake until the
    cron job records them (here: `record_intake`, what the job does after the commit)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Intake = cls.env["email.automation.intake"]
        cls.intake_cron = cls.env.ref(INTAKE_CRON)

    def send_offer(self, partner, ago):
        """Send the e-mail with links to `partner`, `ago` before the signals this test's
        requests will be stamped with; return the trace and the HTML at the SMTP server."""
        self.smtp.clear()
        _scenario, trace, html = self.send(partner, ago=ago)
        return trace, html

    def waiting(self):
        self.Intake.invalidate_model()
        return self.Intake.search([])

    def intake_triggers(self):
        self.env.flush_all()
        return self.env["ir.cron.trigger"].search([("cron_id", "=", self.intake_cron.id)])

    def events(self, trace):
        self.env.invalidate_all()
        return trace.event_ids.sorted(lambda event: (event.occurred_at, event.event_type))

    # ------------------------------------------------------------------

    def test_a_fetched_pixel_waits_in_the_intake_and_is_recorded_as_a_persons_open(self):
        trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        triggers = self.intake_triggers()
        # One try, on a read/write cursor: no failed insert on a read-only one first.
        with self.assertNoLogs("odoo.http", "WARNING"), self.assertNoLogs("odoo.sql_db", "ERROR"):
            response = self.fetch(self.pixel(html), record=False)
        self.assertEqual((response.status_code, response.headers["Content-Type"]), (200, "image/gif"))
        self.assertEqual(response.content[:6], b"GIF89a")

        signal = self.waiting()
        self.assertEqual(len(signal), 1)
        self.assertEqual((signal.kind, signal.trace_id, signal.user_agent), ("open", trace, BROWSER))
        self.assertFalse(signal.is_head or signal.error)
        received_at = signal.received_at
        self.assertEqual(received_at, self.received_now())
        woken = self.intake_triggers() - triggers
        self.assertEqual(len(woken), 1, "the request wakes the intake's cron job")
        self.assertFalse(self.events(trace), "nothing recorded inside the request")
        self.assertFalse(trace.opened_at)

        counts = self.record_intake()
        self.assertEqual(counts, {"received": 1, "recorded": 1, "duplicates": 0, "unknown": 0, "failed": 0})
        (event,) = self.events(trace)
        self.assertEqual(event.event_type, "open")
        self.assertEqual(event.occurred_at, received_at.replace(microsecond=0))
        self.assertEqual(trace.opened_at, event.occurred_at)
        self.assertFalse(self.waiting(), "a recorded signal leaves the intake")
        self.assertIsNone(self.record_intake(), "nothing left to record")

    def test_a_fetch_right_after_sending_or_by_a_bot_is_a_machine_open(self):
        prefetched, html = self.send_offer(self.partner_pl, ago=timedelta(seconds=2))
        self.fetch(self.pixel(html), record=False)
        scanned, html = self.send_offer(self.partner_en, ago=timedelta(hours=1))
        self.fetch(self.pixel(html), agent=SCANNER, record=False)
        self.assertEqual(len(self.waiting()), 2)
        self.assertFalse(self.events(prefetched) or self.events(scanned))
        self.assertEqual(self.record_intake()["recorded"], 2)
        self.assertEqual(self.events(prefetched).mapped("event_type"), ["machine_open"])
        self.assertEqual(self.events(scanned).mapped("event_type"), ["machine_open"])
        self.assertFalse(prefetched.opened_at or scanned.opened_at)
        self.assertEqual((prefetched.machine_open_count, scanned.machine_open_count), (1, 1))

    def test_the_time_received_classifies_the_signal_however_late_it_is_recorded(self):
        # Two e-mails sent together, their pixels fetched: one 10 seconds after sending, the
        # other (as stamped) an hour after. Recorded together, later than either.
        at_once, html_at_once = self.send_offer(self.partner_pl, ago=timedelta(seconds=10))
        an_hour, html_an_hour = self.send_offer(self.partner_en, ago=timedelta(seconds=10))
        self.fetch(self.pixel(html_at_once), record=False)
        self.fetch(self.pixel(html_an_hour), record=False)
        first, second = self.waiting()
        self.assertEqual((first.trace_id, second.trace_id), (at_once, an_hour))
        at_once_received, hour_later = first.received_at, an_hour.sent_at + timedelta(hours=1)
        second.received_at = hour_later
        self.assertEqual(self.record_intake()["recorded"], 2)
        (machine,) = self.events(at_once)
        (person,) = self.events(an_hour)
        self.assertEqual(machine.event_type, "machine_open", "fetched 10 seconds after sending")
        self.assertEqual(person.event_type, "open", "fetched an hour after sending")
        self.assertEqual(machine.occurred_at, at_once_received.replace(microsecond=0))
        self.assertEqual(person.occurred_at, hour_later.replace(microsecond=0))
        self.assertEqual(an_hour.opened_at, hour_later.replace(microsecond=0))

    def test_a_forged_signature_writes_nothing(self):
        trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        triggers = self.intake_triggers()
        pixel, offer = self.path(self.pixel(html)), self.path(self.links(html)["our offer"])
        pixel_prefix, signature, gif = pixel.rsplit("/", 2)
        response = self.url_open(f"{pixel_prefix}/{'0' * len(signature)}/{gif}")
        self.assertEqual((response.status_code, response.content[:6]), (200, b"GIF89a"), "the same image")
        prefix, code, trace_id, signature = offer.rsplit("/", 3)
        response = self.url_open(f"{prefix}/{code}/{trace_id}/{signature[::-1]}", allow_redirects=False)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("Location", response.headers)
        self.assertFalse(self.waiting())
        self.assertEqual(self.intake_triggers(), triggers, "no cron job woken")
        self.assertIsNone(self.record_intake())
        self.assertFalse(self.events(trace))

    def test_a_click_redirects_at_once_and_counts_on_the_tracker_for_a_person_only(self):
        person_trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        with self.assertNoLogs("odoo.http", "WARNING"), self.assertNoLogs("odoo.sql_db", "ERROR"):
            response = self.fetch(self.links(html)["our offer"], record=False)
        self.assertEqual((response.status_code, response.headers["Location"]), (302, OFFER))
        signal = self.waiting()
        tracker = signal.link_id
        self.assertEqual((signal.kind, signal.trace_id, signal.url, tracker.url), ("click", person_trace, OFFER, OFFER))
        self.assertEqual(signal.ip_address, "127.0.0.1")
        self.assertEqual(tracker.count, 0, "counted when recorded, not in the request")

        self.assertEqual(self.record_intake()["recorded"], 1)
        self.assertEqual(self.events(person_trace).mapped("event_type"), ["click"])
        self.assertEqual(self.events(person_trace).url, OFFER)
        tracker.invalidate_recordset()
        self.assertEqual(tracker.count, 1)
        self.assertEqual(self.env["link.tracker.click"].search([("link_id", "=", tracker.id)]).ip, "127.0.0.1")

        machine_trace, html = self.send_offer(self.partner_en, ago=timedelta(hours=1))
        response = self.fetch(self.links(html)["our offer"], agent=SCANNER)
        self.assertEqual((response.status_code, response.headers["Location"]), (302, OFFER))
        self.assertEqual(self.events(machine_trace).mapped("event_type"), ["machine_click"])
        tracker.invalidate_recordset()
        self.assertEqual(tracker.count, 1, "a link scanner's click is not counted")

    def test_the_links_of_an_e_mail_whose_history_was_purged_still_redirect(self):
        trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        pixel, offer = self.pixel(html), self.links(html)["our offer"]
        tracker = self.env["link.tracker"].search([("url", "=", OFFER)])
        # As the retention purge does, long before the recipient reads the e-mail again.
        trace.unlink()
        response = self.fetch(pixel, record=False)
        self.assertEqual((response.status_code, response.content[:6]), (200, b"GIF89a"))
        response = self.fetch(offer, record=False)
        self.assertEqual((response.status_code, response.headers.get("Location")), (302, OFFER))
        counts = self.record_intake()
        self.assertEqual(counts, {"received": 2, "recorded": 0, "duplicates": 0, "unknown": 2, "failed": 0})
        self.assertFalse(self.waiting())
        self.assertFalse(self.env["email.automation.event"].search([("url", "=", OFFER)]))
        self.assertEqual(tracker.count, 0)

    def test_a_batch_of_opens_clicks_and_webhook_events_is_recorded_in_one_run(self):
        trace_pl, html_pl = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        trace_en, html_en = self.send_offer(self.partner_en, ago=timedelta(hours=1))
        self.fetch(self.pixel(html_pl), record=False)
        self.fetch(self.links(html_pl)["terms"], record=False)
        self.fetch(self.pixel(html_en), record=False)
        # The English e-mail as a provider would have sent it, and its webhook's request.
        provider = self.env["email.automation.provider"].create({"name": "Brevo", "kind": "brevo"})
        trace_en.write({"provider_id": provider.id, "provider_message_id": "<relay-1@brevo.example>"})
        delivered_at = trace_en.sent_at + timedelta(minutes=1)
        events = [
            WebhookEvent("delivered", "delivered", "relay-1@brevo.example", epoch_ms(delivered_at)),
            WebhookEvent("delivered", "delivered", "nobody@brevo.example", epoch_ms(delivered_at)),
        ]
        self.Intake._receive("webhook", provider_id=provider.id, events=events)
        self.assertEqual(self.waiting().mapped("kind"), ["open", "click", "open", "webhook"])

        counts = self.record_intake()
        self.assertEqual(counts, {"received": 5, "recorded": 4, "duplicates": 0, "unknown": 1, "failed": 0})
        self.assertEqual(sorted(self.events(trace_pl).mapped("event_type")), ["click", "open"])
        self.assertEqual(sorted(self.events(trace_en).mapped("event_type")), ["delivered", "open"])
        self.assertEqual(trace_en.delivered_at, delivered_at.replace(microsecond=0))
        self.assertFalse(self.waiting())
        self.assertIsNone(self.record_intake())

    def test_a_signal_that_cannot_be_recorded_is_kept_aside_and_the_others_are_recorded(self):
        trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        provider = self.env["email.automation.provider"].create({"name": "Brevo", "kind": "brevo"})
        self.fetch(self.pixel(html), record=False)
        broken = self.Intake.create(
            {
                "kind": "webhook",
                "received_at": self.received_now(),
                "provider_id": provider.id,
                "events": [{"bogus": 1}],
            }
        )
        self.fetch(self.links(html)["our offer"], record=False)

        counts = self.record_intake()
        self.assertEqual(counts, {"received": 2, "recorded": 2, "duplicates": 0, "unknown": 0, "failed": 1})
        self.assertEqual(sorted(self.events(trace).mapped("event_type")), ["click", "open"])
        self.assertEqual(self.waiting(), broken, "kept, for a look")
        self.assertIn("bogus", broken.error)
        self.assertIsNone(self.record_intake(), "not retried")
        self.assertEqual(self.waiting(), broken)

    def test_the_manager_sees_failed_signals_and_only_an_administrator_records_them_again(self):
        _trace, html = self.send_offer(self.partner_pl, ago=timedelta(hours=1))
        self.fetch(self.pixel(html), record=False)
        broken = self.Intake.create({"kind": "webhook", "received_at": self.received_now(), "events": [{"x": 1}]})
        self.record_intake()

        # The list of the menu, read over JSON-RPC as the Manager's browser does.
        self.authenticate(self.user_manager.login, self.user_manager.login)
        rows = self.make_jsonrpc_request(
            "/web/dataset/call_kw/email.automation.intake/web_search_read",
            {
                "model": "email.automation.intake",
                "method": "web_search_read",
                "args": [],
                "kwargs": {
                    "domain": [("error", "!=", False)],
                    "specification": {"kind": {}, "error": {}, "trace_id": {"fields": {"display_name": {}}}},
                    "context": {"lang": "pl_PL"},
                },
            },
        )["records"]
        self.assertEqual([(row["id"], row["kind"]) for row in rows], [(broken.id, "webhook")])
        with self.assertRaises(AccessError):
            broken.with_user(self.user_manager).action_record_again()
        self.assertTrue(broken.error, "the Manager changed nothing")

        admin = self.env.ref("base.user_admin")
        notification = broken.with_user(admin).action_record_again()
        self.assertEqual(notification["params"]["type"], "success")
        self.assertFalse(broken.error, "back in line")
        self.assertTrue(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.intake_cron.id)]),
            "the job is woken to record it",
        )


@tagged("post_install", "-at_install")
class TestIntakeOnRealCursors(CommittedDataCase):
    """The intake with real transactions: two cron runs at once, and the wake-up of the cron
    workers at commit. These tests commit, then delete what they wrote."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            cr.execute("SELECT coalesce(max(id), 0) FROM ir_cron_trigger")
            self.last_trigger_id = cr.fetchone()[0]
            cr.execute("SELECT count(*) FROM email_automation_intake")
            self.assertEqual(cr.fetchone()[0], 0, "the intake is empty before the test")
            self.cron_id = api.Environment(cr, SUPERUSER_ID, {}).ref(INTAKE_CRON).id
        self.addCleanup(self.delete_data)

    def delete_data(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM email_automation_intake")
            cr.execute("DELETE FROM ir_cron_trigger WHERE id > %s", [self.last_trigger_id])

    def receive(self, cr, count=1):
        Intake = api.Environment(cr, SUPERUSER_ID, {})["email.automation.intake"]
        for number in range(count):
            # No trace: a signal for an e-mail that is gone, recorded as unknown.
            Intake._receive("open", durable=False, user_agent=f"{BROWSER} #{number}")

    def intake_count(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM email_automation_intake")
            return cr.fetchone()[0]

    def new_triggers(self):
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT count(*) FROM ir_cron_trigger WHERE cron_id = %s AND id > %s",
                [self.cron_id, self.last_trigger_id],
            )
            return cr.fetchone()[0]

    def test_two_runs_at_once_never_record_the_same_signal(self):
        signals = 60
        with self.registry.cursor() as cr:
            self.receive(cr, signals)
        barrier = threading.Barrier(2)
        received, errors = [[], []], []

        def run(number):
            try:
                with self.registry.cursor() as cr:
                    Intake = api.Environment(cr, SUPERUSER_ID, {})["email.automation.intake"]
                    barrier.wait(timeout=30)
                    # As the cron job does: small batches, each committed.
                    while counts := Intake._record(limit=4, auto_commit=True):
                        received[number].append(counts["received"])
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        threads = [threading.Thread(target=run, args=(number,)) for number in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertFalse(errors)
        self.assertTrue(received[0] and received[1], "both runs recorded a share")
        self.assertEqual(sum(received[0]) + sum(received[1]), signals, "each signal recorded once")
        self.assertEqual(self.intake_count(), 0)

    def test_a_committed_signal_wakes_the_cron_workers(self):
        listener = listen_cron_trigger(self)
        with self.registry.cursor() as cr:
            self.receive(cr)
            self.assertFalse(cron_notifications(listener, wait=0.2), "nobody is told before the commit")
        self.assertTrue(cron_notifications(listener, wait=5), "the cron workers are told after the commit")
        self.assertEqual((self.intake_count(), self.new_triggers()), (1, 1))

    def test_a_rolled_back_signal_wakes_nobody(self):
        listener = listen_cron_trigger(self)
        with self.registry.cursor() as cr:
            self.receive(cr)
            cr.rollback()
        self.assertFalse(cron_notifications(listener, wait=1))
        self.assertEqual((self.intake_count(), self.new_triggers()), (0, 0))
