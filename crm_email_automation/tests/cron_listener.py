"""Listening for the wake-ups of Odoo's cron workers, as they do (odoo/service/server.py):
`LISTEN cron_trigger` on the `postgres` database, the payload naming the database."""

import select
import time

from odoo.sql_db import db_connect
from odoo.tests import get_db_name


def listen_cron_trigger(case):
    """A cursor listening like a cron worker, closed when `case` ends."""
    listener = db_connect("postgres").cursor()
    case.addCleanup(listener.close)
    listener.execute("LISTEN cron_trigger")
    listener.commit()
    return listener


def cron_notifications(listener, wait):
    """The notifications for this test database that `listener` receives within `wait`
    seconds (returning as soon as there is one)."""
    connection = listener._cnx
    deadline = time.monotonic() + wait
    while True:
        connection.poll()
        ours = [n for n in connection.notifies if n.payload == get_db_name()]
        connection.notifies.clear()
        if ours or time.monotonic() >= deadline:
            return ours
        select.select([connection], [], [], max(0.0, deadline - time.monotonic()))
