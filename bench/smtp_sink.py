"""A local SMTP server (aiosmtpd) that accepts and counts every message.

It runs in its own process so that receiving mail does not compete with the measured Odoo
code for the GIL. Run as a script it serves on 127.0.0.1 and answers commands on stdin:
``count`` prints ``<messages> <recipients> <distinct recipients>``, ``reset`` zeroes the
counters; end of input stops it. ``SmtpSink`` drives it from the benchmark.
"""

import socket
import subprocess
import sys
import threading


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    """The SMTP sink subprocess, seen from the benchmark."""

    def __init__(self, python=sys.executable):
        self.port = free_port()
        self._proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [python, __file__, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._proc.stdout.readline().strip()
        if ready != f"READY {self.port}":
            self.stop()
            raise RuntimeError(f"the SMTP sink did not start: {ready!r}")

    def _ask(self, command):
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._proc.stdout.readline().split()

    def count(self):
        """(messages, recipients, distinct recipients) received since the last reset."""
        messages, recipients, distinct = self._ask("count")
        return int(messages), int(recipients), int(distinct)

    def reset(self):
        self._ask("reset")

    def stop(self):
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class CountingHandler:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages = 0
            self.recipients = 0
            self.distinct = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        with self.lock:
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
            elif command == "count":
                with handler.lock:
                    print(handler.messages, handler.recipients, len(handler.distinct), flush=True)
            else:
                print("? ? ?", flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
