from datetime import timedelta

import lxml.html

from odoo.tests import tagged

from .mail_client import BROWSER
from .tracking_common import OFFER, TERMS, TrackingCommon


@tagged("post_install", "-at_install")
class TestTrackingHttp(TrackingCommon):
    """A sent e-mail's pixel and tracked links, fetched from the message as a mail client
    does, through Odoo's HTTP server."""

    def events(self, trace):
        self.env.invalidate_all()
        return sorted(trace.event_ids.mapped("event_type"))

    # ------------------------------------------------------------------

    def test_pixel_and_link_fetched_by_a_mail_client_record_human_open_and_click(self):
        scenario, trace, html = self.send(self.partner_pl)
        links = self.links(html)
        offer, terms = links["our offer"], links["terms"]
        self.assertIn("/email_automation/r/", offer)
        self.assertNotEqual(offer, terms)

        response = self.fetch(self.pixel(html))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "image/gif")
        self.assertIn("no-store", response.headers["Cache-Control"])
        self.assertEqual(response.content[:6], b"GIF89a")
        self.assertEqual(self.events(trace), ["open"])
        self.assertTrue(trace.opened_at)
        self.assertFalse(trace.clicked_at)

        response = self.fetch(offer)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], OFFER)
        self.assertIn("no-store", response.headers["Cache-Control"])
        self.assertEqual(self.events(trace), ["click", "open"])
        click = trace.event_ids.filtered(lambda e: e.event_type == "click")
        self.assertEqual(click.url, OFFER)
        self.assertFalse(click.provider_id)
        self.assertTrue(trace.clicked_at)
        self.assertEqual((trace.open_count, trace.click_count), (1, 1))
        self.assertEqual((trace.machine_open_count, trace.machine_click_count), (0, 0))
        # link_tracker counts the person's click on its tracker.
        tracker = self.env["link.tracker"].search([("url", "=", OFFER)])
        self.assertEqual(tracker.count, 1)

        scenario.invalidate_recordset()
        self.assertEqual(scenario.mail_sent_count, 1)
        self.assertEqual((scenario.opened_ratio, scenario.clicked_ratio), (100.0, 100.0))
        self.assertEqual((scenario.human_open_count, scenario.human_click_count), (1, 1))
        self.assertEqual((scenario.machine_open_count, scenario.machine_click_count), (0, 0))
        # The chatter keeps the e-mail as written: a colleague reading it is not the recipient.
        self.assertNotIn("open.gif", str(trace.mail_message_id.body))
        self.assertIn(OFFER.replace("&", "&amp;"), str(trace.mail_message_id.body))

    def test_unsubscribe_mailto_tel_anchor_and_foreign_unsubscribe_links_are_not_rewritten(self):
        _scenario, trace, html = self.send(self.partner_en)
        links = self.links(html)
        self.assertEqual(links["Write"], "mailto:sales@example.com")
        self.assertEqual(links["call"], "tel:+48221234567")
        self.assertEqual(links["top"], "#top")
        self.assertEqual(links["their list"], "https://lists.example.com/unsubscribe?u=1")
        (unsubscribe,) = [href for href in links.values() if "/email_automation/unsubscribe/" in href]
        self.assertNotIn("/email_automation/r/", unsubscribe)
        # The unsubscribe page still answers directly.
        self.assertEqual(self.fetch(unsubscribe).status_code, 200)
        self.assertEqual(self.events(trace), [])

    def test_only_web_links_are_rewritten_each_to_its_own_target(self):
        body = (
            "<p><a href='javascript:alert(1)'>script</a> <a href='data:text/html,%3Cb%3Ex%3C/b%3E'>data</a>"
            " <a href='sms:+48221234567'>text us</a> <a href='ftp://files.example.com/price.pdf'>prices</a></p>"
            "<p><a href='/shop/cart'>your cart</a>"
            " <a href='https://shop.example.com/offer?ref=mail&amp;lang=pl#details'>details</a>"
            " <a href='https://shop.example.com/terms'>terms</a></p>"
        )
        template = self._create_template("res.partner", subject="Links", subject_pl="Linki", body=body, body_pl=body)
        _scenario, trace, html = self.send(self.partner_en, template=template)
        links = self.links(html)
        # Not web pages: left as written (scripts and data are dropped by Odoo's HTML
        # sanitizer before), never turned into a redirect.
        self.assertIn(links["script"], ("javascript:alert(1)", "", None))
        self.assertIn(links["data"], ("data:text/html,%3Cb%3Ex%3C/b%3E", "", None))
        self.assertEqual(links["text us"], "sms:+48221234567")
        self.assertEqual(links["prices"], "ftp://files.example.com/price.pdf")
        # Web pages, this site's own included: each redirects to its own target, as written.
        targets = {
            "your cart": f"{self.base_url()}/shop/cart",
            "details": "https://shop.example.com/offer?ref=mail&lang=pl#details",
            "terms": TERMS,
        }
        paths = {}
        for label, target in targets.items():
            self.assertIn("/email_automation/r/", links[label], label)
            paths[label] = self.path(links[label])
            response = self.fetch(links[label])
            self.assertEqual((response.status_code, response.headers.get("Location")), (302, target), label)
        self.assertEqual(self.events(trace), ["click", "machine_click", "machine_click"], "a person, then a burst")
        # One e-mail's signature is for its own (link, e-mail) pair: not valid for its other links.
        cart_prefix, _cart_code, trace_id, cart_signature = paths["your cart"].rsplit("/", 3)
        terms_code = paths["terms"].rsplit("/", 3)[1]
        response = self.url_open(f"{cart_prefix}/{terms_code}/{trace_id}/{cart_signature}", allow_redirects=False)
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("Location", response.headers)
        self.assertIsNone(self.record_intake())

    def test_forged_or_altered_tracking_urls_never_redirect(self):
        _scenario, trace, html = self.send(self.partner_pl)
        offer = self.path(self.links(html)["our offer"])
        prefix, code, trace_id, signature = offer.rsplit("/", 3)
        other_trace = self.send(self.partner_en)[1]
        # An attacker's own link tracker, to a URL of their choice.
        evil = self.env["link.tracker"].create({"url": "https://evil.example.net/phish", "title": "x"})
        evil_code = self.env["link.tracker.code"].search([("link_id", "=", evil.id)]).code
        forged = [
            f"{prefix}/{code}/{trace_id}/{'0' * len(signature)}",
            f"{prefix}/{code}/{trace_id}/{signature[:-1]}{'a' if signature[-1] != 'a' else 'b'}",
            f"{prefix}/{code}/{other_trace.id}/{signature}",
            f"{prefix}/{evil_code}/{trace_id}/{signature}",
            f"{prefix}/{code}/{trace_id}/{signature}x",
        ]
        for path in forged:
            response = self.url_open(path, allow_redirects=False)
            self.assertEqual(response.status_code, 404, path)
            self.assertNotIn("Location", response.headers, path)
        # A forged pixel answers the same image and records nothing.
        pixel = self.path(self.pixel(html))
        response = self.url_open(pixel.replace(f"/{trace.id}/", f"/{other_trace.id}/"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content[:6], b"GIF89a")
        self.assertIsNone(self.record_intake(), "no signal waits in the intake")
        self.assertEqual(self.events(trace) + self.events(other_trace), [])
        self.assertEqual(evil.count, 0)

    def test_tracking_off_sends_no_pixel_and_the_original_links(self):
        scenario, _trace, html = self.send(self.partner_pl, category="transactional")
        self.assertFalse(scenario.is_tracking_enabled, "off by default for transactional e-mail")
        links = self.links(html)
        self.assertEqual((links["our offer"], links["terms"]), (OFFER, TERMS))
        self.assertFalse([img for img in html.iter("img") if "open.gif" in (img.get("src") or "")])
        marketing_off = self.send(self.partner_en, is_tracking_enabled=False)[2]
        self.assertEqual(self.links(marketing_off)["our offer"], OFFER)
        self.assertNotIn("open.gif", lxml.html.tostring(marketing_off, encoding="unicode"))
        self.assertFalse(self.env["link.tracker"].search([("url", "in", [OFFER, TERMS])]))

    def test_prefetch_scanner_and_head_are_machine_events_kept_out_of_the_rates(self):
        # Fetched at once after sending: a privacy proxy's prefetch and a scanner's click.
        scenario, trace, html = self.send(self.partner_pl, ago=timedelta(seconds=2))
        links = self.links(html)
        self.assertEqual(self.fetch(self.pixel(html)).status_code, 200)
        self.assertEqual(self.fetch(links["our offer"]).headers["Location"], OFFER)
        self.assertEqual(self.events(trace), ["machine_click", "machine_open"])
        self.assertFalse(trace.opened_at or trace.clicked_at)
        self.assertEqual((trace.machine_open_count, trace.machine_click_count), (1, 1))

        # Later: a scanner's user agent, a HEAD request, several links within seconds.
        _scenario, later, html = self.send(self.partner_en)
        links = self.links(html)
        self.fetch(self.pixel(html), agent="Mozilla/5.0 (compatible; Barracuda Sentinel)")
        self.assertEqual(self.fetch(links["our offer"], head=True).status_code, 302)
        self.assertEqual(self.events(later), ["machine_click", "machine_open"])
        self.assertEqual(self.fetch(links["terms"]).headers.get("Location"), TERMS)
        self.assertEqual(self.events(later), ["machine_click", "machine_click", "machine_open"])
        # Gmail's image proxy fetches when the person opens the e-mail: a human open.
        self.fetch(
            self.pixel(html),
            agent="Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        )
        self.assertEqual(self.events(later), ["machine_click", "machine_click", "machine_open", "open"])
        self.assertFalse(later.clicked_at)
        self.assertEqual(self.env["link.tracker"].search([("url", "=", OFFER)]).count, 0)

        scenario.invalidate_recordset()
        self.assertEqual((scenario.opened_ratio, scenario.clicked_ratio), (0.0, 0.0))
        self.assertEqual((scenario.machine_open_count, scenario.machine_click_count), (1, 1))

    def test_tracking_routes_refuse_bodies_and_odd_parameters_without_error(self):
        _scenario, trace, html = self.send(self.partner_pl)
        offer, pixel = self.path(self.links(html)["our offer"]), self.path(self.pixel(html))
        for path in (offer, pixel):
            # Only GET and HEAD: a POST (with a body) is refused before anything is read.
            self.assertEqual(self.url_open(path, data={"x": "y" * 5000}, allow_redirects=False).status_code, 405)
            # A parameter named like the controller's own arguments is no 500.
            response = self.url_open(
                f"{path}?self=1&trace_id=2&code=x", allow_redirects=False, headers={"User-Agent": BROWSER}
            )
            self.assertIn(response.status_code, (200, 302), path)
        self.assertEqual(self.record_intake()["recorded"], 2, "the two GETs, not the refused POSTs")
        self.assertEqual(self.events(trace), ["click", "open"])
