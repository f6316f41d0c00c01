"""A mail client's view of the e-mails that reached the SMTP server: their HTML, their
links and open pixel, fetched through Odoo's HTTP server (for HttpCase tests)."""

from urllib.parse import urlsplit

import lxml.html

from odoo import SUPERUSER_ID

from .common import body_text

# A person's mail client (Apple Mail), not a machine's.
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"


class MailClientMixin:
    def html_of(self, message):
        return lxml.html.fromstring(body_text(message))

    def path(self, url):
        """The path and query of `url`, which must point at this server."""
        self.assertTrue(url.startswith(self.base_url()), f"{url} points at this server")
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def links(self, html):
        """{label: href} of the links of an e-mail's HTML."""
        return {node.text_content(): node.get("href") for node in html.iter("a")}

    def pixel(self, html):
        """The open pixel's URL: exactly one."""
        (pixel,) = [img.get("src") for img in html.iter("img") if img.get("src", "").endswith("/open.gif")]
        return pixel

    def fetch(self, url, head=False, agent=BROWSER, record=True):
        """GET (or HEAD) `url` as a mail client does: no redirect followed. Then, unless
        `record` is false, the intake is recorded as the cron job would (`record_intake`)."""
        response = self.url_open(self.path(url), head=head, allow_redirects=False, headers={"User-Agent": agent})
        if record:
            self.record_intake()
        return response

    def record_intake(self):
        """What the intake's cron job does moments after the request's commit (no cron job
        runs in tests): record the tracking signals waiting in the intake as tracking events.
        Returns its counts, or None when nothing was waiting."""
        return self.env(user=SUPERUSER_ID)["email.automation.intake"]._record()

    def received_now(self):
        """The time stamped on a signal received now: PostgreSQL's `now()`, the start of the
        transaction, which in a test is the test's own transaction."""
        self.env.cr.execute("SELECT now() at time zone 'UTC'")
        return self.env.cr.fetchone()[0]
