"""A local server that speaks Brevo's transactional send API and counts what it accepts.

It answers ``POST /v3/smtp/email`` as Brevo documents it (``201 {"messageId": "<...>"}``,
``401`` without the expected ``api-key``), keeps connections alive (HTTP/1.1), and runs in
its own process so that serving requests does not compete with the measured Odoo code for
the GIL. Run as a script it serves on 127.0.0.1 and answers commands on stdin, like
smtp_sink.py: ``count`` prints ``<messages> <distinct recipients> <distinct idempotency
keys>``, ``reset`` zeroes the counters; end of input stops it.
"""

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sink_process import SinkProcess

API_KEY = "bench-brevo-key"


class BrevoSink(SinkProcess):
    """The Brevo API sink subprocess; `count()` gives (messages, distinct recipients,
    distinct idempotency keys)."""

    script = __file__

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}/v3"


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = 0
            self.recipients = set()
            self.keys = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answer at once: with Nagle's algorithm a keep-alive answer waits for the client's
    # delayed ACK, about 40 ms per request.
    disable_nagle_algorithm = True
    counter = Counter()

    def log_message(self, format, *args):  # the base class logs every request to stderr
        pass

    def _answer(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 - http.server's hook name
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path != "/v3/smtp/email":
            self._answer(404, {"code": "not_found", "message": "Not found"})
            return
        if self.headers.get("api-key") != API_KEY:
            self._answer(401, {"code": "unauthorized", "message": "Key not found"})
            return
        counter = self.counter
        with counter.lock:
            counter.messages += 1
            counter.recipients.update(to["email"].lower() for to in data.get("to", []))
            counter.keys.add((data.get("headers") or {}).get("idempotencyKey"))
        self._answer(201, {"messageId": f"<{uuid.uuid4().hex}@smtp-relay.mailin.fr>"})


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY {port}", flush=True)
    counter = Handler.counter
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                counter.reset()
                print("0 0 0", flush=True)
            elif command == "count":
                with counter.lock:
                    print(counter.messages, len(counter.recipients), len(counter.keys), flush=True)
            else:
                print("? ? ?", flush=True)
    finally:
        server.shutdown()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
