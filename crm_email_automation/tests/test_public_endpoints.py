"""The public routes refuse large bodies before reading them whole, chunked ones too, and
answer unknown providers as they answer wrong credentials (issue 8, section 5).

Every attack is a real HTTP request to the Odoo test server; the chunked ones go over a raw
socket, as a client that lies about nothing but never stops sending would."""

import base64
import contextlib
import http.client
import json
import socket

import odoo.http
from odoo.tests import tagged

from ..providers import brevo_webhook, mandrill_webhook
from .webhook_common import BREVO_TOKEN, MANDRILL_KEY, MANDRILL_URL, WebhookCommon

PAGE_LIMIT = 16 * 1024
MAILCHIMP_LIMIT = 64 * 1024
MODULE = "odoo.addons.crm_email_automation."


@tagged("post_install", "-at_install")
class TestBodyLimits(WebhookCommon):
    def setUp(self):
        super().setUp()
        self.unsubscribe_token = self.env["email.automation.mail.sender"]._unsubscribe_token(self.trace_pl)
        self.company.sudo().email_automation_mailchimp_enabled = True
        secret = self.company.sudo().email_automation_mailchimp_webhook_secret
        # (path, headers, limit, the answer's kind)
        self.routes = {
            "brevo": (
                f"/email_automation/webhook/brevo/{self.brevo.id}",
                {"Content-Type": "application/json", "Authorization": f"Bearer {BREVO_TOKEN}"},
                brevo_webhook.MAX_BODY,
                "json",
            ),
            "mandrill": (
                f"/email_automation/webhook/mandrill/{self.mandrill.id}",
                {"Content-Type": "application/x-www-form-urlencoded"},
                mandrill_webhook.MAX_BODY,
                "json",
            ),
            "mailchimp": (
                f"/email_automation/webhook/mailchimp/{secret}",
                {"Content-Type": "application/x-www-form-urlencoded"},
                MAILCHIMP_LIMIT,
                "json",
            ),
            "unsubscribe": (
                f"/email_automation/unsubscribe/{self.unsubscribe_token}",
                {"Content-Type": "application/x-www-form-urlencoded"},
                PAGE_LIMIT,
                "html",
            ),
            "consent": (
                "/email_automation/consent/not-a-token",
                {"Content-Type": "application/x-www-form-urlencoded"},
                PAGE_LIMIT,
                "html",
            ),
        }

    def form_body(self, size):
        """A form of `size` bytes: what each route would parse."""
        prefix = b"List-Unsubscribe=One-Click&padding="
        return prefix + b"x" * (size - len(prefix))

    def chunked_post(self, path, headers, size, finish=True):
        """POST `size` bytes with Transfer-Encoding: chunked (no Content-Length) over a raw
        socket; `finish=False` never sends the last chunk, as an endless body. Returns
        (status, content type, body) of the answer."""
        self.env.flush_all()
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=20)
        try:
            head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{self.http_port()}", "Transfer-Encoding: chunked"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            body = self.form_body(size)
            # The server may answer and close without reading the rest: the answer waits.
            with contextlib.suppress(OSError):
                for start in range(0, len(body), 8192):
                    chunk = body[start : start + 8192]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if finish:
                    sock.sendall(b"0\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            return response.status, response.getheader("Content-Type") or "", response.read()
        finally:
            sock.close()

    def assertTooLarge(self, kind, status, content_type, body):
        self.assertEqual(status, 413, body[:300])
        if kind == "json":
            self.assertIn("application/json", content_type)
            self.assertEqual(json.loads(body), {"error": "request body too large"})
        else:
            self.assertIn("text/html", content_type)
            self.assertIn(b"o_email_automation_too_large", body)

    def test_every_public_post_route_declares_a_body_limit(self):
        public_post = []
        for url, endpoint in odoo.http._generate_routing_rules(["crm_email_automation"], nodb_only=False):
            routing = endpoint.routing
            if not endpoint.original_endpoint.__module__.startswith(MODULE):
                continue
            if routing["auth"] in ("public", "none") and (not routing.get("methods") or "POST" in routing["methods"]):
                public_post.append(url)
                self.assertTrue(routing.get("email_automation_body_answer"), f"{url} has no body limit")
                self.assertGreater(routing.get("max_content_length") or 0, 0, url)
        self.assertGreaterEqual(len(public_post), 5, public_post)

    def test_an_announced_large_body_is_refused_before_it_is_read(self):
        before = self.snapshot()
        for name, (path, headers, limit, kind) in self.routes.items():
            with self.subTest(route=name):
                response = self.url_open(path, data=self.form_body(limit + 1), headers=headers)
                self.assertTooLarge(kind, response.status_code, response.headers.get("Content-Type", ""),
                                    response.content)  # fmt: skip
        self.assertEqual(self.snapshot(), before)

    def test_a_chunked_body_over_the_limit_is_refused(self):
        before = self.snapshot()
        for name, (path, headers, limit, kind) in self.routes.items():
            with self.subTest(route=name):
                self.assertTooLarge(kind, *self.chunked_post(path, headers, limit + 1))
        self.assertEqual(self.snapshot(), before)

    def test_an_endless_chunked_body_is_cut_at_the_limit(self):
        # The client never ends its body: a server reading it whole would wait forever.
        for name in ("brevo", "mailchimp", "unsubscribe"):
            path, headers, limit, kind = self.routes[name]
            with self.subTest(route=name):
                self.assertTooLarge(kind, *self.chunked_post(path, headers, limit + 1024, finish=False))

    def test_a_chunked_body_within_the_limit_still_works(self):
        path = self.routes["unsubscribe"][0]
        status, _content_type, body = self.chunked_post(
            path, {"Content-Type": "application/x-www-form-urlencoded"}, 200
        )
        self.assertEqual(status, 200, body[:300])
        self.env.invalidate_all()
        self.assertEqual(self.partner_pl.email_consent_state, "withdrawn")
        event = self.brevo_event("delivered", self.trace_en)
        status, _content_type, body = self.chunked_raw(self.routes["brevo"][0], self.routes["brevo"][1], event)
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok", "received": 1}))
        # What the cron job does after the request's commit.
        self.assertEqual(self.record_intake()["recorded"], 1)
        self.assertTrue(self.trace_en.delivered_at)

    def test_a_broken_chunked_body_is_a_400_not_a_500(self):
        before = self.snapshot()
        for name, (path, headers, _limit, kind) in self.routes.items():
            with self.subTest(route=name):
                self.env.flush_all()
                sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=20)
                try:
                    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
                    head += [f"{header}: {value}" for header, value in headers.items()]
                    sock.sendall(("\r\n".join(head) + "\r\n\r\nnot-hex\r\nxx\r\n0\r\n\r\n").encode())
                    response = http.client.HTTPResponse(sock)
                    response.begin()
                    self.assertEqual(response.status, 400)
                    body = response.read()
                    if kind == "json":
                        self.assertEqual(json.loads(body), {"error": "malformed request body"})
                finally:
                    sock.close()
        self.assertEqual(self.snapshot(), before)

    def chunked_raw(self, path, headers, payload):
        self.env.flush_all()
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=20)
        try:
            data = json.dumps(payload).encode()
            head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{self.http_port()}", "Transfer-Encoding: chunked"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            sock.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            response = http.client.HTTPResponse(sock)
            response.begin()
            return response.status, response.getheader("Content-Type"), response.read()
        finally:
            sock.close()


@tagged("post_install", "-at_install")
class TestNoProviderEnumeration(WebhookCommon):
    """Whether a provider id exists is not something a stranger can learn."""

    def answer(self, response):
        return response.status_code, response.content

    def test_brevo_unknown_provider_answers_as_wrong_credentials(self):
        unknown = self.env["email.automation.provider"].search([], order="id desc", limit=1).id + 1000
        bare = self.env["email.automation.provider"].create({"name": "Bare Brevo", "kind": "brevo"})
        event = self.brevo_event("delivered", self.trace_pl)
        basic = base64.b64encode(b"brevo-hook:wrong").decode()
        before = self.snapshot()
        for authorization in (None, "Bearer wrong-token", f"Basic {basic}", "Digest x"):
            with self.subTest(authorization=authorization):
                auth = "none" if authorization is None else None
                headers = {"Authorization": authorization} if authorization else {}
                known = self.answer(self.post_brevo(event, headers=headers, auth=auth))
                self.assertIn(known[0], (401, 403))
                self.assertEqual(self.answer(self.post_brevo(event, headers=headers, auth=auth, provider=bare)), known)
                missing = self.post_brevo(event, headers=headers, auth=auth, provider=self.brevo.browse(unknown))
                self.assertEqual(self.answer(missing), known)
        self.assertEqual(self.snapshot(), before)

    def test_mandrill_unknown_provider_answers_as_a_wrong_signature(self):
        unknown = self.mandrill.browse(self.env["email.automation.provider"].search([], order="id desc").ids[0] + 1000)
        bare = self.env["email.automation.provider"].create({"name": "Bare Mandrill", "kind": "mandrill"})
        events = [self.mandrill_event("open", self.trace_md)]
        before = self.snapshot()
        for label, kwargs in (
            ("no signature", {"key": None}),
            ("wrong key", {"key": "not-the-key"}),
            ("test post", {"key": None, "fields": [("mandrill_events", "[]")]}),
        ):
            with self.subTest(label):
                known = self.answer(self.post_mandrill(events, **kwargs))
                self.assertEqual(self.answer(self.post_mandrill(events, provider=bare, **kwargs)), known)
                self.assertEqual(self.answer(self.post_mandrill(events, provider=unknown, **kwargs)), known)
        for provider in (self.mandrill, unknown):
            path = f"/email_automation/webhook/mandrill/{provider.id}"
            self.assertEqual(self.opener.head(self.base_url() + path, timeout=10).status_code, 200)
        self.assertEqual(self.snapshot(), before)
        # The right key still works.
        response = self.post_mandrill(events, key=MANDRILL_KEY, url=MANDRILL_URL)
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "received": 1}))
        self.assertEqual(self.recorded["recorded"], 1)
