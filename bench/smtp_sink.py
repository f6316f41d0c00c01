"""A local SMTP server (aiosmtpd) that accepts and counts every message.

It runs in its own process so that receiving mail does not compete with the measured Odoo
code for the GIL. Run as a script it serves on 127.0.0.1 and answers commands on stdin:
``count`` prints ``<messages> <recipients> <distinct recipients>``, ``times`` prints as one
JSON line when each recipient's first message was accepted (epoch seconds), ``reset`` zeroes
the counters; end of input stops it. ``SmtpSink`` drives it from the benchmark.
"""

import json
import sys
import threading
import time

from sink_process import SinkProcess


class SmtpSink(SinkProcess):
    """The SMTP sink subprocess; `count()` gives (messages, recipients, distinct recipients)."""

    script = __file__

    def accepted_times(self):
        """{recipient: epoch seconds its first message was accepted} since the last reset."""
        self._proc.stdin.write("times\n")
        self._proc.stdin.flush()
        return json.loads(self._proc.stdout.readline())


class CountingHandler:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = 0
            self.recipients = 0
            self.distinct = set()
            self.accepted = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        now = time.time()
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.accepted.setdefault(recipient.lower(), now)
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.distinct.update(r.lower() for r in envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def serve(port):
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - only the subprocess needs it

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                handler.reset()
                print("0 0 0", flush=True)
            elif command == "times":
                with handler.lock:
                    print(json.dumps(handler.accepted), flush=True)
            elif command == "count":
                with handler.lock:
                    print(handler.messages, handler.recipients, len(handler.distinct), flush=True)
            else:
                print("? ? ?", flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
