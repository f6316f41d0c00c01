"""Waking Odoo's cron workers after a commit, cheaply enough for every tracking hit.

Odoo's `ir.cron._notifydb` borrows a connection to the `postgres` database (where the cron
workers listen), and Odoo's pool never keeps those: every notification connects anew,
which costs more than the whole request it follows. One connection is kept per process
instead (after a fork, the child opens its own).
"""

import logging
import os
import threading

import psycopg2

from odoo import sql_db
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_connection = {"pid": None, "cnx": None}


def _notify_connection():
    if _connection["pid"] != os.getpid() or _connection["cnx"] is None or _connection["cnx"].closed:
        _dbname, info = sql_db.connection_info_for("postgres")
        cnx = psycopg2.connect(**info)
        cnx.autocommit = True
        _connection.update(pid=os.getpid(), cnx=cnx)
    return _connection["cnx"]


def notify_cron_workers(dbname):
    """What `ir.cron._notifydb` does, on the kept connection; a failure is logged, not
    raised (the cron's own interval runs the job all the same)."""
    with _lock:
        for attempt in (1, 2):
            try:
                query = SQL("SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname)
                with _notify_connection().cursor() as cr:
                    cr.execute(query.code, query.params)
                return
            except psycopg2.Error:
                # A connection closed by PostgreSQL (restart, idle timeout): once more, anew.
                _connection["cnx"] = None
                if attempt == 2:
                    _logger.warning("Could not wake the cron workers", exc_info=True)
