import logging
import time
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models, modules
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# A cron run stops starting new batches after this many seconds and reports what is left,
# so that Odoo runs it again at once instead of hitting the cron time limit mid-batch.
CRON_TIME_BUDGET = 240
# Advisory lock key (any constant bigint unique to this module) held by the lane that does
# the housekeeping: enrolments, time triggers, goal checks, stale claims.
HOUSEKEEPING_LOCK = 7_243_110_001


class EmailAutomationQueue(models.AbstractModel):
    _name = "email.automation.queue"
    _description = "E-mail Automation Queue"

    @api.model
    def _setting(self, key, default):
        return int(self.env["ir.config_parameter"].sudo().get_param(f"crm_email_automation.{key}", default))

    @api.model
    def _cron_process_queue(self):
        self._run_queue()

    @api.model
    def _run_queue(self):
        """Process the queue as the cron does: committing after each e-mail accepted, so
        that nothing is sent twice; never inside a test transaction."""
        return self._process_queue(auto_commit=not modules.module.current_test, time_budget=CRON_TIME_BUDGET)

    @api.model
    def _process_queue(self, auto_commit=False, time_budget=None):
        """Enrol what triggers queued, run time triggers, recover stale claims, then
        process the due traces. Returns counts for the caller to report."""
        enrolled = 0
        if self._take_housekeeping_lock(auto_commit):
            try:
                enrolled = self._housekeeping(auto_commit)
            finally:
                self._release_housekeeping_lock(auto_commit)
        processed = self._process_due_traces(auto_commit=auto_commit, time_budget=time_budget)
        return {"enrolled": enrolled, "processed": processed}

    @api.model
    def _housekeeping(self, auto_commit):
        enrolled = self._process_enrolments()
        enrolled += self._run_time_triggers()
        # Before the due steps: a record that reached its goal gets no further e-mail.
        self.env["email.automation.goal.check"]._process_goal_checks()
        stale_after = timedelta(minutes=self._setting("stale_claim_minutes", 30))
        self.env["email.automation.trace"]._recover_stale_claims(stale_after)
        if enrolled and auto_commit:
            # The other lanes found nothing due when they woke with this one: wake them
            # now that the new steps are committed, so that they share the work.
            self._trigger_lanes(exclude=self._current_lane())
        if auto_commit:
            self.env.cr.commit()  # pylint: disable=invalid-commit
        return enrolled

    @api.model
    def _take_housekeeping_lock(self, auto_commit):
        """One lane at a time enrols, runs time triggers, checks goals and recovers stale
        claims; the others go straight to the due traces (no lane waits for another).

        A session-level advisory lock, because the housekeeping commits: it lasts until
        released, or until the connection ends if the worker dies. The commit after taking
        it starts a snapshot that sees everything the previous holder committed."""
        if not auto_commit:
            return True  # in one transaction (a test, a manual run): nothing runs beside
        self.env.cr.execute(SQL("SELECT pg_try_advisory_lock(%s)", HOUSEKEEPING_LOCK))
        if not self.env.cr.fetchone()[0]:
            return False
        self.env.cr.commit()  # pylint: disable=invalid-commit
        return True

    @api.model
    def _release_housekeeping_lock(self, auto_commit):
        if auto_commit:
            self.env.cr.rollback()  # what the housekeeping did not commit is not kept
            self.env.cr.execute(SQL("SELECT pg_advisory_unlock(%s)", HOUSEKEEPING_LOCK))
            self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _wake_up(self):
        """Run the queue (every lane) right after this transaction commits, so that an e-mail due now
        leaves within seconds rather than at the next scheduled run.

        One cron trigger per transaction however many records it enrols (the cursor's
        precommit data lives as long as the transaction); Odoo's cron thread is notified
        at commit and nothing happens on rollback.
        """
        pending = self.env.cr.precommit.data
        if pending.get("crm_email_automation.queue_woken"):
            return
        pending["crm_email_automation.queue_woken"] = True
        # Every lane: each claims its share of what is due.
        self._trigger_lanes()

    @api.model
    def _notify_cron_progress(self, done, remaining):
        if self.env.context.get("ir_cron_progress_id"):
            self.env.ref("crm_email_automation.ir_cron_process_queue")._notify_progress(done=done, remaining=remaining)

    @api.model
    def _process_enrolments(self, limit=5000):
        """Enrol the records the create/write triggers queued, per scenario in batch."""
        Enrolment = self.env["email.automation.enrolment"].sudo()
        # A paused scenario keeps its pending enrolments for when it runs again.
        requests = Enrolment.search([("scenario_id.state", "=", "running")], limit=limit)
        by_scenario = defaultdict(dict)
        for request in requests:
            # The earliest trigger of a record counts when it fired several times.
            by_scenario[request.scenario_id].setdefault(request.res_id, request.triggered_at)
        enrolled = 0
        for scenario, triggered_at in by_scenario.items():
            enrolled += len(scenario._enrol(list(triggered_at), triggered_at=triggered_at))
        requests.unlink()
        return enrolled

    @api.model
    def _run_time_triggers(self):
        now = fields.Datetime.now()
        scenarios = (
            self.env["email.automation.scenario"]
            .sudo()
            .search([("state", "=", "running"), ("trigger", "in", ("on_date", "on_inactivity"))])
        )
        return sum(len(scenario._enrol_time_triggered(now)) for scenario in scenarios)

    @api.model
    def _process_due_traces(self, batch_size=None, auto_commit=False, time_budget=None):
        """Claim and process due traces batch after batch until none is due (or the time
        budget is spent), reporting progress to the cron. Returns how many were processed."""
        Trace = self.env["email.automation.trace"].sudo()
        if self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized"):
            # A copy of a production database (staging, test) never e-mails real customers.
            _logger.info("E-mail automation: neutralized database, the queue is not processed")
            return 0
        batch_size = batch_size or self._setting("batch_size", 200)
        started = time.monotonic()
        done = 0
        while True:
            if auto_commit:
                # The claim runs in a transaction of its own, in READ COMMITTED: under Odoo's
                # REPEATABLE READ, a row another worker claimed after our snapshot would raise
                # a serialization failure instead of being skipped.
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            traces = Trace._claim_due(batch_size)
            if not traces:
                self._notify_cron_progress(done, remaining=0)
                break
            if auto_commit:
                # The claim must be visible to other workers before any e-mail leaves.
                self.env.cr.commit()  # pylint: disable=invalid-commit
            traces._process(auto_commit=auto_commit)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            done += len(traces)
            if time_budget and time.monotonic() - started > time_budget:
                # Odoo runs the cron again at once when it reports work left.
                self._notify_cron_progress(done, remaining=Trace._count_due())
                break
        if done:
            _logger.info("E-mail automation: processed %s trace(s)", done)
        return done
