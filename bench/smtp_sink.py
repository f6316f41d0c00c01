"""A local SMTP server (aiosmtpd) that accepts and counts every message.

It runs in its own process so that receiving mail does not compete with the measured Odoo
code for the GIL. Run as a script it serves on 127.0.0.1 and answers commands on stdin:
``count`` prints ``<messages> <recipients> <distinct recipients>``, ``times`` prints as one
JSON line when each recipient's first message was accepted (epoch seconds), ``reset`` zeroes
the counters; end of input stops it. ``SmtpSink`` drives it from the benchmark.

With ``--record`` it also keeps, for every recipient of every message, the message's
Message-ID and X-Odoo-Automation-Trace headers; ``dump PATH`` writes them to PATH as
tab-separated lines (Message-ID, trace, recipient) and prints how many.
"""

import json
import sys
import threading
import time
from email.parser import BytesHeaderParser

from sink_process import SinkProcess


class SmtpSink(SinkProcess):
    """The SMTP sink subprocess; `count()` gives (messages, recipients, distinct recipients)."""

    script = __file__

    def __init__(self, record=False, **kwargs):
        super().__init__(args=["--record"] if record else [], **kwargs)

    def dump(self, path):
        """Write the recorded (Message-ID, trace, recipient) lines to `path`; return how many."""
        return int(self._ask(f"dump {path}")[0])

    def accepted_times(self):
        """{recipient: epoch seconds its first message was accepted} since the last reset."""
        self._proc.stdin.write("times\n")
        self._proc.stdin.flush()
        return json.loads(self._proc.stdout.readline())


class CountingHandler:
    def __init__(self, record=False):
        self.lock = threading.Lock()
        self.record = record
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = 0
            self.recipients = 0
            self.distinct = set()
            self.ledger = []
            self.accepted = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        now = time.time()
        if self.record:
            headers = BytesHeaderParser().parsebytes(envelope.content)
            keys = (headers.get("Message-Id", "-"), headers.get("X-Odoo-Automation-Trace", "-"))
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.accepted.setdefault(recipient.lower(), now)
            self.messages += 1
            self.recipients += len(envelope.rcpt_tos)
            self.distinct.update(r.lower() for r in envelope.rcpt_tos)
            if self.record:
                self.ledger.extend((*keys, rcpt.lower()) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def dump(self, path):
        with self.lock:
            lines = list(self.ledger)
        with open(path, "w", encoding="utf-8") as out:
            out.writelines("\t".join(line) + "\n" for line in lines)
        return len(lines)


def serve(port, record=False):
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - only the subprocess needs it

    handler = CountingHandler(record=record)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"READY {port}", flush=True)
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                handler.reset()
                print("0 0 0", flush=True)
            elif command.startswith("dump "):
                print(handler.dump(command[5:]), flush=True)
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
    serve(int(sys.argv[1]), record="--record" in sys.argv[2:])
