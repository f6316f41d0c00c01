from odoo import fields, models
from odoo.tools import SQL


class EmailAutomationTrace(models.Model):
    """Claims of a worker that died are found at once: its database connection is gone.

    A server killed (SIGKILL, a crash, a lost machine) drops its connections, and
    PostgreSQL knows it; a live lane, however slow, keeps its connection for the whole job.
    So the claims of a dead worker return to the queue at the next lane's housekeeping,
    without waiting for the stale claim timeout, and a slow live lane never loses its
    claims (that timeout still applies to claims whose worker lives but hangs)."""

    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    claimed_by = fields.Char(readonly=True, copy=False, help="The database connection that claimed the step.")

    def _orphaned_claim_ids(self):
        """Ids of the traces claimed (processing, or sent but not logged yet) by a
        connection that no longer exists."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT trace.id
                  FROM email_automation_trace trace
                 WHERE trace.claimed_by IS NOT NULL
                   AND (trace.state = 'processing'
                        OR (trace.state = 'sent' AND trace.message_id IS NOT NULL AND trace.mail_message_id IS NULL))
                   AND NOT EXISTS (
                        -- backend_start is hidden from another database role: the pid alone
                        -- then keeps the claim (never recovered by mistake).
                        SELECT 1 FROM pg_stat_activity activity
                         WHERE activity.pid = split_part(trace.claimed_by, '@', 1)::int
                           AND (activity.backend_start IS NULL
                                OR activity.pid || '@' || extract(epoch FROM activity.backend_start)
                                   = trace.claimed_by))
                """
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]
