"""A real SMTP server on 127.0.0.1 that keeps what it receives, for the tests."""

import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CollectingHandler:
    """Stores every accepted message; `reply` may answer a message with an SMTP error."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()
        self.reply = None  # callable(message) -> None (accept) or an SMTP reply like "451 ..."
        self.on_data = None  # callable(message) called before the reply, e.g. to kill a worker

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if self.on_data:
            self.on_data(message)
        error = self.reply(message) if self.reply else None
        if error:
            return error
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self):
        self.handler = CollectingHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    @property
    def all_messages(self):
        with self.handler.lock:
            return list(self.handler.messages)

    @property
    def messages(self):
        """The e-mails the automation sent; Odoo's own notifications (an order
        confirmation, say) may reach the same server and are left out."""
        return [m for m in self.all_messages if m["X-Odoo-Automation-Trace"]]

    def clear(self):
        with self.handler.lock:
            self.handler.messages.clear()
        self.handler.reply = None
        self.handler.on_data = None

    def messages_to(self, address):
        return [m for m in self.messages if address in str(m["To"])]
