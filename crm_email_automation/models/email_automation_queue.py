import logging
import time
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models, modules
from odoo.tools import SQL, config

_logger = logging.getLogger(__name__)

# A cron run stops starting new batches after this many seconds and wakes the queue for
# the rest, so that Odoo runs it again at once instead of hitting the cron time limit
# mid-batch.
CRON_TIME_BUDGET = 240
# Advisory lock key (any constant bigint unique to this module) held by the lane that does
# the housekeeping: enrolments, time triggers, goal checks, stale claims.
HOUSEKEEPING_LOCK = 7_243_110_001
# Cursor precommit data: the queue is woken at this transaction's commit / at that time.
WOKEN_KEY = "crm_email_automation.queue_woken"
WAKE_AT_KEY = "crm_email_automation.queue_wake_at"
# Context key of the queue's own run: the traces it makes due need no trigger (it claims
# again until nothing is due, then plans the next due time itself).
QUEUE_RUN_KEY = "email_automation_queue_run"


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
        queue = self.with_context(**{QUEUE_RUN_KEY: True})
        return queue._process_queue(auto_commit=not modules.module.current_test, time_budget=self._time_budget())

    @api.model
    def _time_budget(self):
        """Seconds one run may start batches for: CRON_TIME_BUDGET, or less in prefork,
        where Odoo kills a cron worker that runs longer than `limit_time_real_cron`."""
        limit = config["limit_time_real_cron"]
        if limit is None or limit < 0:
            limit = config["limit_time_real"]
        if config["workers"] and limit and limit > 0:
            return min(CRON_TIME_BUDGET, limit / 2)
        return CRON_TIME_BUDGET

    @api.model
    def _process_queue(self, auto_commit=False, time_budget=None):
        """Enrol what triggers queued, run time triggers, recover stale claims, then
        process the due traces. Returns counts for the caller to report."""
        queue = self.with_context(**{QUEUE_RUN_KEY: True})
        enrolled = 0
        if queue._take_housekeeping_lock(auto_commit):
            try:
                enrolled = queue._housekeeping(auto_commit)
            finally:
                queue._release_housekeeping_lock(auto_commit)
        processed = queue._process_due_traces(auto_commit=auto_commit, time_budget=time_budget)
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
    def _wake_up(self, at=None):
        """Run the queue (every lane) right after this transaction commits (`at` empty or past), or when
        `at` comes, so that an e-mail leaves within seconds of being due rather than at the
        next scheduled run (the cron's interval is only a safety net).

        Coalesced per transaction: one cron trigger however many records it enrols or makes
        due (the cursor's precommit data lives as long as the transaction); Odoo's cron
        workers are notified at commit and nothing happens on rollback.
        """
        due_now = not at or at <= fields.Datetime.now()
        pending = self.env.cr.precommit.data
        if pending.get(WOKEN_KEY):
            return  # woken at commit already: the run plans the later due times itself
        if due_now:
            pending[WOKEN_KEY] = True
            pending.pop(WAKE_AT_KEY, None)
            # Every lane: each claims its share of what is due.
            self._trigger_lanes()
            return
        planned = pending.get(WAKE_AT_KEY)
        if planned is None:
            self.env.cr.precommit.add(self._trigger_at_commit)
        if planned is None or at < planned:
            pending[WAKE_AT_KEY] = at

    def _trigger_at_commit(self):
        """At commit, a trigger at the earliest later due time of the transaction, unless
        the cron runs by then anyway (its next scheduled call or another trigger)."""
        at = self.env.cr.precommit.data.pop(WAKE_AT_KEY, None)
        if at is None or self.env.cr.precommit.data.get(WOKEN_KEY):
            return
        now = fields.Datetime.now()
        for cron in self._lane_crons():
            # Only calls still to come count: a trigger or a nextcall already due may belong
            # to the run going on now, which may not see this transaction's traces.
            if now < cron.nextcall <= at or self.env["ir.cron.trigger"].sudo().search_count(
                [("cron_id", "=", cron.id), ("call_at", ">", now), ("call_at", "<=", at)], limit=1
            ):
                continue
            cron._trigger(at=at)
        self.env.flush_all()

    @api.model
    def _wake_up_for_next_due(self):
        """After a run: wake the queue when the earliest trace still waiting is due."""
        self.env.cr.execute(
            SQL(
                """
                SELECT min(trace.scheduled_at)
                  FROM email_automation_trace trace
                  JOIN email_automation_scenario scenario ON scenario.id = trace.scenario_id
                 WHERE trace.state = 'scheduled'
                   AND trace.is_test IS NOT TRUE
                   AND scenario.state = 'running'
                   AND trace.scheduled_at > %(now)s
                """,
                now=fields.Datetime.now(),
            )
        )
        next_due = self.env.cr.fetchone()[0]
        if next_due:
            self._wake_up(at=next_due)

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
                # The rest in a new run, woken at once: Odoo would repeat this one up to ten
                # times in the same cron job if it reported work left, past the time limit
                # of a prefork cron worker.
                self._notify_cron_progress(done, remaining=0)
                self._wake_up()
                break
        if done:
            _logger.info("E-mail automation: processed %s trace(s)", done)
        # Deferred, retried or delayed steps: the queue runs again when the first is due.
        self._wake_up_for_next_due()
        return done
