"""A local stand-in for the Brevo v3 and Mandrill 1.0 APIs, on 127.0.0.1, for tests and the
benchmark.

It speaks the documented endpoints (see PROVIDERS.md): Brevo `POST /v3/smtp/email` and
`GET /v3/account` with the `api-key` header; Mandrill `POST /api/1.0/messages/send` and
`POST /api/1.0/users/ping2` (with or without `.json`) with the key in the body. It records
every request, can be scripted to answer errors (401, 402, 429 with `x-sib-ratelimit-*`
headers, 500, a slow answer), and can post webhook events back for each accepted e-mail.

    server = ProviderServer(api_key="secret").start()
    provider.api_base_url = server.brevo_url      # or server.mandrill_url
    server.script(Reply.brevo_error(429, reset=30))
    ...
    server.accepted("brevo")                      # the e-mails it took, once per idempotency key
"""

import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BREVO_PREFIX = "/v3"
MANDRILL_PREFIX = "/api/1.0"


@dataclass
class Reply:
    """One scripted answer: used once, for the next request to a send endpoint."""

    status: int = 200  # None: answer as usual, after the delay
    body: object = None
    headers: dict = field(default_factory=dict)
    delay: float = 0  # seconds to wait before answering (beyond the client's timeout, say)

    @classmethod
    def brevo_error(cls, status, code="", message="", reset=None, delay=0):
        codes = {400: "invalid_parameter", 401: "unauthorized", 402: "not_enough_credits", 403: "permission_denied"}
        headers = {}
        if status == 429:
            headers = {"x-sib-ratelimit-limit": "10", "x-sib-ratelimit-remaining": "0"}
            if reset is not None:
                headers["x-sib-ratelimit-reset"] = str(reset)
        body = {"code": code or codes.get(status, "error"), "message": message or f"Error {status}"}
        return cls(status, body, headers, delay)

    @classmethod
    def slow(cls, delay):
        """Answer as usual, but only after `delay` seconds."""
        return cls(status=None, delay=delay)

    @classmethod
    def mandrill_error(cls, name, message):
        return cls(500, {"status": "error", "code": -1, "name": name, "message": message})

    @classmethod
    def mandrill_rejected(cls, email, reason="hard-bounce", status="rejected"):
        return cls(200, [{"email": email, "status": status, "reject_reason": reason, "_id": uuid.uuid4().hex}])


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: object
    accepted: bool = False  # the provider took the e-mail
    duplicate: bool = False  # ... but had taken it already (same idempotency key)
    message_id: str = ""  # the id the provider answered

    @property
    def kind(self):
        return "brevo" if self.path.startswith(BREVO_PREFIX) else "mandrill"


class ProviderServer:
    def __init__(self, api_key="test-api-key"):
        self.api_key = api_key
        self.requests = []
        self._replies = deque()
        self._seen_keys = {}
        self._lock = threading.Lock()
        self.webhook = None
        # callable(request): called as each send request arrives, before it is answered
        # (a test pausing the provider in the middle of a batch, say).
        self.on_send = None
        self._webhook_threads = []
        self._in_flight = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def brevo_url(self):
        return f"http://127.0.0.1:{self.port}{BREVO_PREFIX}"

    @property
    def mandrill_url(self):
        return f"http://127.0.0.1:{self.port}{MANDRILL_PREFIX}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def clear(self):
        with self._lock:
            self.requests.clear()
            self._replies.clear()
            self._seen_keys.clear()
            self.webhook = None
            self.on_send = None

    def script(self, *replies):
        """Answer the next send/test requests with `replies`, in order; then succeed again."""
        with self._lock:
            self._replies.extend(replies)

    def sends(self, kind=None):
        """Every send request received (retries included), optionally of one provider."""
        paths = (BREVO_PREFIX + "/smtp/email", MANDRILL_PREFIX + "/messages/send")
        return [
            r
            for r in self.requests
            if r.path.removesuffix(".json").endswith(paths) and (kind is None or r.kind == kind)
        ]

    def accepted(self, kind=None):
        """The e-mails the provider took and would deliver: Brevo drops a repeated
        idempotency key, so a duplicate request is not a second e-mail."""
        return [r for r in self.sends(kind) if r.accepted and not r.duplicate]

    def post_webhooks_to(self, url, headers=None, events=("delivered",), signing_key=None, signed_url=None):
        """After each accepted e-mail, post `events` for it to `url` (Brevo: one JSON POST
        per event with `headers`, e.g. a bearer token; Mandrill: one form POST of
        `mandrill_events`, signed with `signing_key` over `signed_url` or `url`), from a
        thread of its own (see `wait_for_webhooks`). Odoo's webhooks only queue the events:
        a test records Odoo's intake afterwards, as its cron job would."""
        self.webhook = {
            "url": url,
            "headers": dict(headers or {}),
            "events": tuple(events),
            "signing_key": signing_key,
            "signed_url": signed_url or url,
        }

    def report(self, url, events, headers=None, signing_key=None, signed_url=None, kind=None):
        """Post `events` now, from the calling thread, for every e-mail accepted so far, as
        the provider reports deliveries, opens and clicks after the sending is over. Returns
        the answers, (status, JSON body), one per POST. Odoo's webhooks only queue the
        events: a test records Odoo's intake afterwards, as its cron job would."""
        webhook = {
            "url": url,
            "headers": dict(headers or {}),
            "events": tuple(events),
            "signing_key": signing_key,
            "signed_url": signed_url or url,
        }
        answers = []
        for request in self.accepted(kind):
            recipients = (request.body.get("message") or {}).get("to") or [{}]
            answers += self._deliver_webhooks(
                webhook, request.kind, request.body, request.message_id, recipients[0].get("email")
            )
        return answers

    def wait_for_answers(self, timeout=10):
        """Wait until every request received is answered (a slow one the client gave up on)."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def wait_for_webhooks(self, timeout=10):
        for thread in list(self._webhook_threads):
            thread.join(timeout)

    # ------------------------------------------------------------------
    # Answers
    # ------------------------------------------------------------------

    def _next_reply(self):
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def _answer(self, request):
        """(status, body, headers) for a recorded request."""
        path = request.path.split("?")[0].rstrip("/")
        path = path[: -len(".json")] if path.endswith(".json") else path
        if path == BREVO_PREFIX + "/smtp/email" and request.method == "POST":
            return self._brevo_send(request)
        if path == BREVO_PREFIX + "/account" and request.method == "GET":
            return self._brevo_account(request)
        if path == MANDRILL_PREFIX + "/messages/send" and request.method == "POST":
            return self._mandrill_send(request)
        if path == MANDRILL_PREFIX + "/users/ping2" and request.method == "POST":
            return self._mandrill_ping(request)
        return 404, {"code": "not_found", "message": "Unknown endpoint"}, {}

    def _scripted(self):
        """The next scripted reply, after its delay; None (a normal answer) when it only
        delays (status None): the provider took the e-mail, the client gave up waiting."""
        reply = self._next_reply()
        if reply and reply.delay:
            time.sleep(reply.delay)
        return reply if reply and reply.status is not None else None

    def _brevo_unauthorized(self, request):
        if request.headers.get("api-key") != self.api_key:
            return 401, {"code": "unauthorized", "message": "Key not found"}, {}
        return None

    def _brevo_account(self, request):
        reply = self._scripted()
        if reply:
            return reply.status, reply.body, reply.headers
        return self._brevo_unauthorized(request) or (
            200,
            {"email": "owner@example.com", "companyName": "Example Sp. z o.o.", "plan": []},
            {},
        )

    def _brevo_send(self, request):
        if self.on_send:
            self.on_send(request)
        reply = self._scripted()
        if reply:
            return reply.status, reply.body, reply.headers
        refused = self._brevo_unauthorized(request)
        if refused:
            return refused
        body = request.body if isinstance(request.body, dict) else {}
        for required in ("sender", "to", "subject"):
            if not body.get(required):
                return 400, {"code": "missing_parameter", "message": f"{required} is missing"}, {}
        if not (body.get("htmlContent") or body.get("textContent")):
            return 400, {"code": "missing_parameter", "message": "htmlContent or textContent is missing"}, {}
        key = (body.get("headers") or {}).get("idempotencyKey")
        with self._lock:
            duplicate = key in self._seen_keys
            message_id = self._seen_keys.get(key) or f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>"
            if key:
                self._seen_keys[key] = message_id
        request.accepted, request.duplicate, request.message_id = True, duplicate, message_id
        if not duplicate:
            self._post_webhooks("brevo", body, message_id)
        return 201, {"messageId": message_id}, {}

    def _mandrill_ping(self, request):
        reply = self._scripted()
        if reply:
            return reply.status, reply.body, reply.headers
        if (request.body or {}).get("key") != self.api_key:
            return 500, {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"}, {}
        return 200, {"PING": "PONG!"}, {}

    def _mandrill_send(self, request):
        if self.on_send:
            self.on_send(request)
        reply = self._scripted()
        if reply:
            return reply.status, reply.body, reply.headers
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("key") != self.api_key:
            return 500, {"status": "error", "code": -1, "name": "Invalid_Key", "message": "Invalid API key"}, {}
        message = body.get("message") or {}
        if not message.get("to"):
            return 500, {"status": "error", "code": -2, "name": "ValidationError", "message": "No recipients"}, {}
        request.accepted = True
        answers = []
        for recipient in message["to"]:
            message_id = request.message_id = uuid.uuid4().hex
            answers.append({"email": recipient["email"], "status": "sent", "reject_reason": None, "_id": message_id})
            self._post_webhooks("mandrill", body, message_id, recipient["email"])
        return 200, answers, {}

    # ------------------------------------------------------------------
    # Webhooks back to Odoo
    # ------------------------------------------------------------------

    def _post_webhooks(self, kind, body, message_id, email=None):
        webhook = self.webhook
        if not webhook:
            return
        thread = threading.Thread(target=self._deliver_webhooks, args=(webhook, kind, body, message_id, email))
        thread.start()
        self._webhook_threads.append(thread)

    def _deliver_webhooks(self, webhook, kind, body, message_id, email):
        """Post `webhook`'s events for one e-mail; return the answers (see `_post`)."""
        now = int(time.time())
        if kind == "brevo":
            answers = []
            for event in webhook["events"]:
                payload = {
                    "event": event,
                    "email": body["to"][0]["email"],
                    "message-id": message_id,
                    "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "ts_event": now,
                    "ts_epoch": now * 1000,
                    "subject": body.get("subject"),
                    "tags": body.get("tags") or [],
                    "X-Mailin-custom": (body.get("headers") or {}).get("X-Mailin-custom", ""),
                }
                if event == "click":
                    payload["link"] = "https://example.com/offer"
                headers = {"Content-Type": "application/json", **webhook["headers"]}
                answers.append(self._post(webhook["url"], json.dumps(payload).encode(), headers))
            return answers
        message = body.get("message") or {}
        events = [
            {
                "event": event,
                "ts": now,
                "_id": message_id,
                "msg": {
                    "_id": message_id,
                    "email": email,
                    "state": "sent",
                    "ts": now,
                    "subject": message.get("subject"),
                    "tags": message.get("tags") or [],
                    "metadata": message.get("metadata") or {},
                },
                **({"url": "https://example.com/offer"} if event == "click" else {}),
            }
            for event in webhook["events"]
        ]
        fields = {"mandrill_events": json.dumps(events)}
        headers = {"Content-Type": "application/x-www-form-urlencoded", **webhook["headers"]}
        if webhook["signing_key"]:
            headers["X-Mandrill-Signature"] = mandrill_signature(webhook["signing_key"], webhook["signed_url"], fields)
        return [self._post(webhook["url"], urllib.parse.urlencode(fields).encode(), headers)]

    @staticmethod
    def _post(url, data, headers):
        """POST to `url`; return (status, JSON body or None), or (None, None) when no
        answer came. A refusal is an answer, not an error: the provider goes on."""
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - local test URL
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except OSError:
            return None, None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, None

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real APIs: the client reuses its connection.
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold every answer back some 40 ms.
            disable_nagle_algorithm = True

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(request)
                    server._in_flight += 1
                try:
                    status, answer, headers = server._answer(request)
                finally:
                    with server._lock:
                        server._in_flight -= 1
                payload = json.dumps(answer).encode() if not isinstance(answer, (bytes, str)) else answer
                payload = payload.encode() if isinstance(payload, str) else payload
                # The client may have given up waiting (a time-out test).
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)

            do_GET = do_POST = _handle  # noqa: N815

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                pass

        return Handler


def mandrill_signature(key, url, fields):
    """Mandrill's X-Mandrill-Signature: base64(HMAC-SHA1(key, url + sorted key+value pairs))."""
    signed = url + "".join(f"{name}{fields[name]}" for name in sorted(fields))
    return base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode()
