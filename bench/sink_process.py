"""A local server run as a subprocess of the benchmark, driven over its stdin and stdout.

The server script prints ``READY <port>`` once it listens on 127.0.0.1, then answers one
line per command (``count``, ``reset``); the end of its input stops it. Running it in a
process of its own keeps it from competing with the measured Odoo code for the GIL.
"""

import socket
import subprocess
import sys


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SinkProcess:
    """The server subprocess, seen from the benchmark. Subclasses name their `script`."""

    script = None

    def __init__(self, python=sys.executable, args=()):
        self.port = free_port()
        self._proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [python, self.script, str(self.port), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._proc.stdout.readline().strip()
        if ready != f"READY {self.port}":
            self.stop()
            raise RuntimeError(f"{type(self).__name__} did not start: {ready!r}")

    def _ask(self, command):
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        return self._proc.stdout.readline().split()

    def count(self):
        """The server's counters since the last reset, as integers."""
        return tuple(int(value) for value in self._ask("count"))

    def reset(self):
        self._ask("reset")

    @property
    def pid(self):
        return self._proc.pid

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
