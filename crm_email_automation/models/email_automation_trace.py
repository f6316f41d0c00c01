import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# Who holds a claim: the worker's PostgreSQL connection, as "pid@start" so that a later
# connection reusing the pid is not taken for it (see email_automation_trace_claim.py).
CLAIMER = SQL(
    "(SELECT activity.pid || '@' || extract(epoch FROM activity.backend_start)"
    " FROM pg_stat_activity activity WHERE activity.pid = pg_backend_pid())"
)

# Advisory lock key (a constant unique to this module) that makes the lanes' claims take turns.
CLAIM_LOCK = 7_243_110_002

_logger = logging.getLogger(__name__)

TRACE_REASONS = [
    # skipped
    ("record_deleted", "Record deleted"),
    ("record_hidden", "Record not accessible to the scenario's responsible user"),
    ("condition_false", "Step condition not met"),
    ("no_recipient", "No recipient"),
    ("invalid_email", "Invalid e-mail address"),
    ("holdout", "Holdout participant"),
    # cancelled
    ("goal_reached", "Goal reached"),
    ("parent_not_done", "Previous step not done"),
    ("scenario_stopped", "Scenario stopped"),
    ("end_step", "Ended by a step"),
    ("manual", "Cancelled by hand"),
    # deferred or failed
    ("smtp_transient", "Temporary delivery error"),
    ("smtp_permanent", "Delivery refused"),
    ("render_error", "Template error"),
    ("activity_error", "Activity error"),
    ("retries_exhausted", "Too many delivery attempts"),
    ("provider_transient", "Temporary provider error"),
    ("provider_permanent", "Refused by the provider"),
    ("provider_auth", "Provider authentication failed"),
    ("provider_paused", "Provider paused"),
]


class EmailAutomationTrace(models.Model):
    _name = "email.automation.trace"
    _description = "E-mail Automation Trace"
    _order = "scheduled_at desc, id desc"
    _rec_name = "step_id"

    participant_id = fields.Many2one("email.automation.participant", required=True, ondelete="cascade", index=True)
    step_id = fields.Many2one("email.automation.step", required=True, ondelete="cascade", index=True)
    scenario_id = fields.Many2one(related="participant_id.scenario_id", store=True, index=True)
    company_id = fields.Many2one(related="participant_id.company_id", store=True, index=True)
    res_model = fields.Char(related="participant_id.res_model", string="Document Model")
    res_id = fields.Many2oneReference(related="participant_id.res_id", model_field="res_model", string="Document ID")
    # Read as the reader, not as superuser: a record their rules hide is not named.
    record_name = fields.Char(related="participant_id.record_name", string="Document", compute_sudo=False)
    partner_id = fields.Many2one(related="participant_id.partner_id", string="Contact")
    action_type = fields.Selection(related="step_id.action_type")
    state = fields.Selection(
        [
            ("scheduled", "Scheduled"),
            ("processing", "Processing"),
            ("sent", "Sent"),
            ("skipped", "Skipped"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        default="scheduled",
        required=True,
        index=True,
    )
    reason = fields.Selection(TRACE_REASONS, readonly=True)
    reason_detail = fields.Text(string="Details", readonly=True)
    scheduled_at = fields.Datetime(string="Due At", required=True, default=fields.Datetime.now)
    claimed_at = fields.Datetime(readonly=True, copy=False)
    processed_at = fields.Datetime(readonly=True, copy=False)
    attempt_count = fields.Integer(string="Attempts", readonly=True, default=0)
    is_test = fields.Boolean(string="Test", readonly=True, help="Sent to the scenario's test address.")
    email_to = fields.Char(string="Sent To", readonly=True)
    message_id = fields.Char(string="Message-ID", readonly=True, index="btree_not_null", copy=False)
    mail_message_id = fields.Many2one("mail.message", string="Logged Message", readonly=True, ondelete="set null")
    sent_at = fields.Datetime(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    opened_at = fields.Datetime(readonly=True)
    clicked_at = fields.Datetime(readonly=True)
    replied_at = fields.Datetime(readonly=True)
    bounced_at = fields.Datetime(readonly=True)
    outcome_due_at = fields.Datetime(
        string="Waits For Outcome Until",
        readonly=True,
        copy=False,
        help="When the next waiting window of this e-mail closes: the steps that follow it on "
        "“not opened”, “not clicked” or “not replied” are decided then.",
    )
    # What the provider and its webhooks reported back.
    provider_id = fields.Many2one("email.automation.provider", readonly=True, index="btree_not_null")
    provider_message_id = fields.Char(
        string="Provider Message ID",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The id the provider gave the e-mail; its webhooks name it.",
    )
    open_count = fields.Integer(string="Opens", readonly=True, help="Opens by people.")
    machine_open_count = fields.Integer(
        string="Machine Opens",
        readonly=True,
        help="Opens by a mail client's privacy proxy (Apple Mail), which prefetches every e-mail.",
    )
    click_count = fields.Integer(string="Clicks", readonly=True, help="Clicks by people.")
    machine_click_count = fields.Integer(
        string="Machine Clicks", readonly=True, help="Clicks by link scanners, which open every link to check it."
    )
    event_ids = fields.One2many("email.automation.event", "trace_id", string="Tracking Events")

    _sql_constraints = [
        (
            "participant_step_uniq",
            "unique(participant_id, step_id)",
            "A participant goes through each step of its scenario only once.",
        ),
    ]

    def init(self):
        # Serves the queue's claim: "scheduled traces due before now, oldest first". Not-due
        # and finished traces stay out of the index, so the claim cost does not grow with them.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_due_idx
                ON email_automation_trace (scheduled_at, id)
             WHERE state = 'scheduled'
            """
        )
        # Serves the recovery of e-mails a dead worker sent but did not log (normally none).
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_unlogged_idx
                ON email_automation_trace (claimed_at)
             WHERE state = 'sent' AND message_id IS NOT NULL AND mail_message_id IS NULL
            """
        )
        # Serves the queue's branch window scan: "sent traces whose outcome window closed",
        # only the ones still waiting (decided and finished traces leave the index).
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_outcome_due_idx
                ON email_automation_trace (outcome_due_at)
             WHERE outcome_due_at IS NOT NULL
            """
        )
        # Serves the recovery of claims left behind by a worker that died.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS email_automation_trace_processing_idx
                ON email_automation_trace (claimed_at)
             WHERE state = 'processing'
            """
        )

    # ------------------------------------------------------------------
    # Queue claims
    # ------------------------------------------------------------------

    @api.model
    def _claim_due(self, limit, now=None):
        """Claim up to `limit` due traces of running scenarios for this worker.

        Rows another worker holds are skipped (SKIP LOCKED), so two workers never claim the
        same trace. The caller commits the claim before any outside call.

        Frequency caps across lanes: a marketing trace is not claimed while another lane
        holds one of the same contact, so the lane that checks a contact's cap sees every
        marketing e-mail that contact was sent (two lanes mailing one contact at the same
        instant would each count the other's e-mail as not sent yet: over the cap by one).
        For that, claims take turns (a transaction-level advisory lock, released when the
        claim commits, a few milliseconds), so each sees the claims committed before it.
        Sending stays parallel; rate limits hold through their counter rows.
        """
        now = now or fields.Datetime.now()
        self.env.flush_all()
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", CLAIM_LOCK))
        self.env.cr.execute(
            SQL(
                """
                UPDATE email_automation_trace trace
                   SET state = 'processing', claimed_at = %(now)s, attempt_count = trace.attempt_count + 1,
                       claimed_by = %(claimer)s
                 WHERE trace.id IN (
                        SELECT due.id
                          FROM email_automation_trace due
                          JOIN email_automation_scenario scenario ON scenario.id = due.scenario_id
                         WHERE due.state = 'scheduled'
                           AND due.scheduled_at <= %(now)s
                           AND due.is_test IS NOT TRUE
                           AND scenario.state = 'running'
                           AND NOT (due.category = 'marketing' AND EXISTS (
                                    SELECT 1 FROM email_automation_trace busy
                                     WHERE busy.partner_id = due.partner_id
                                       AND busy.state = 'processing'
                                       AND busy.category = 'marketing'))
                      ORDER BY due.scheduled_at, due.id
                         LIMIT %(limit)s
                           FOR UPDATE OF due SKIP LOCKED
                 )
             RETURNING trace.id
                """,
                now=now,
                limit=limit,
                claimer=CLAIMER,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model(["state", "claimed_at", "attempt_count"])
        return self.browse(sorted(ids))

    @api.model
    def _count_due(self):
        # Test runs advance on demand only: never the queue's backlog.
        return self.search_count(
            [("state", "=", "scheduled"), ("scheduled_at", "<=", fields.Datetime.now()), ("is_test", "=", False)]
        )

    @api.model
    def _recover_stale_claims(self, older_than):
        """Give back traces claimed by a worker that died before finishing them.

        A trace whose e-mail was already accepted (it has its Message-ID) is sent, not sent
        again; the others return to the queue. E-mails the dead worker sent but had not
        logged in the chatter yet are logged now. A claim is stale when it is older than
        `older_than`, or at once when the worker's database connection is gone.
        """
        deadline = fields.Datetime.now() - older_than
        orphaned = self._orphaned_claim_ids()
        stale = self.search([("state", "=", "processing"), "|", ("claimed_at", "<", deadline), ("id", "in", orphaned)])
        accepted = stale.filtered("message_id")
        accepted.write({"state": "sent"})
        (stale - accepted).write({"state": "scheduled"})
        unlogged = self.search(
            [
                ("state", "=", "sent"),
                ("message_id", "!=", False),
                ("mail_message_id", "=", False),
                "|",
                ("claimed_at", "<", deadline),
                ("id", "in", orphaned),
            ]
        )
        self.env["email.automation.mail.sender"]._log_in_chatter(unlogged)
        if stale:
            _logger.warning(
                "E-mail automation: recovered %s stale claim(s), %s already sent", len(stale), len(accepted)
            )
            accepted.participant_id._schedule_next_steps(accepted)
            accepted.participant_id._complete_finished()
        return stale

    # ------------------------------------------------------------------
    # Processing of claimed traces
    # ------------------------------------------------------------------

    def _process(self, auto_commit=False):
        """Decide and execute the claimed traces `self`, in batch.

        Each trace ends sent, skipped, failed, cancelled (with a reason), or back in the
        queue with a later due date when a transient error is retried.
        """
        traces = self._skip_or_cancel_unfit()
        mails = traces.filtered(lambda t: t.step_id.action_type == "mail")
        if mails:
            self.env["email.automation.mail.sender"]._send_traces(mails, auto_commit=auto_commit)
        traces.filtered(lambda t: t.step_id.action_type == "activity")._execute_activities()
        traces.filtered(lambda t: t.step_id.action_type == "end")._execute_end_steps()
        done = self.filtered(lambda t: t.state == "sent")
        self.participant_id._schedule_next_steps(done)
        self._cancel_children_of_unfinished()
        self.participant_id._complete_finished()

    def _skip_or_cancel_unfit(self):
        """Record why traces must not run (record gone or out of the responsible's reach,
        goal reached, condition false, holdout), one query per scenario or step; return
        the traces that may run.

        The records are looked at as the scenario's responsible user, in the scenario's
        company: the queue's superuser rights only claim the work.
        """
        runnable = self.browse()
        for scenario in self.scenario_id:
            traces = self.filtered(lambda t, s=scenario: t.scenario_id == s)
            res_ids = traces.mapped("res_id")
            # sudo: tell a deleted record from one the responsible may not read.
            existing_ids = set(self.env[scenario.model_name].sudo().browse(res_ids).exists().ids)
            gone = traces.filtered(lambda t, ids=existing_ids: t.res_id not in ids)
            gone._finish("skipped", "record_deleted")
            gone.participant_id._end("exited", "record_deleted")
            traces -= gone
            traces = traces._skip_inaccessible(scenario)
            Model = scenario._responsible_records()
            goal = scenario._parse_domain("goal_domain", scenario.model_name, env=Model.env)
            if goal and traces:
                reached_ids = set(Model.search(goal + [("id", "in", traces.mapped("res_id"))]).ids)
                converted = traces.filtered(lambda t, ids=reached_ids: t.res_id in ids)
                converted._finish("cancelled", "goal_reached")
                converted.participant_id._end("converted", "goal_reached")
                traces -= converted
            for step in traces.step_id:
                step_traces = traces.filtered(lambda t, s=step: t.step_id == s)
                condition = step._parse_condition(env=Model.env)
                if not condition:
                    continue
                matching = set(Model.search(condition + [("id", "in", step_traces.mapped("res_id"))]).ids)
                step_traces.filtered(lambda t, ids=matching: t.res_id not in ids)._finish("skipped", "condition_false")
            runnable |= traces
        holdouts = runnable.filtered(lambda t: t.participant_id.is_holdout and t.step_id.action_type == "mail")
        holdouts._finish("skipped", "holdout")
        return runnable.filtered(lambda t: t.state == "processing")

    def _skip_inaccessible(self, scenario):
        """Skip the traces (all of `scenario`) whose record or contact its responsible
        may not read in its company, ending their participation; return the others."""
        accessible_ids = scenario._accessible_ids(self.mapped("res_id"))
        partners = self.participant_id.partner_id
        readable_partners = (
            partners.with_env(scenario._responsible_env())._filtered_access("read")
            if accessible_ids
            else partners.browse()
        )
        hidden = self.filtered(
            lambda t: t.res_id not in accessible_ids or (t.partner_id and t.partner_id not in readable_partners)
        )
        if hidden:
            detail = scenario._responsible_problem() or self.env._(
                "%(user)s cannot open this record or its contact in the company %(company)s.",
                user=scenario.user_id.name,
                company=scenario.company_id.name,
            )
            hidden._finish("skipped", "record_hidden", detail)
            hidden.participant_id._end("exited", "record_hidden")
        return self - hidden

    def _recipients(self):
        """{trace id: (record, recipient address as written)}, the records read once per
        scenario, as its responsible user. Shared by the sending policy and the mail sender."""
        result = {}
        for scenario in self.scenario_id:
            traces = self.filtered(lambda t, s=scenario: t.scenario_id == s)
            records = {r.id: r for r in scenario._responsible_records(traces.mapped("res_id"))}
            for trace in traces:
                record = records[trace.res_id]
                partner = trace.participant_id.partner_id.with_env(record.env)
                result[trace.id] = (record, scenario._get_recipient_email(record, partner))
        return result

    def _finish(self, state, reason=False, detail=False):
        if self:
            self.write(
                {"state": state, "reason": reason, "reason_detail": detail, "processed_at": fields.Datetime.now()}
            )

    def _retry_later(self, reason, detail, max_attempts, base_delay_minutes=5, min_delay_seconds=0):
        """Put transient failures back in the queue with exponential backoff, or fail them
        for good once they used up their attempts. `min_delay_seconds`: never sooner than
        this (a provider's rate limit says when it takes e-mails again)."""
        exhausted = self.filtered(lambda t: t.attempt_count >= max_attempts)
        exhausted._finish("failed", "retries_exhausted", detail)
        now = fields.Datetime.now()
        for trace in self - exhausted:
            delay = timedelta(minutes=base_delay_minutes * 2 ** (trace.attempt_count - 1))
            delay = max(delay, timedelta(seconds=min_delay_seconds))
            trace.write({"state": "scheduled", "scheduled_at": now + delay, "reason": reason, "reason_detail": detail})

    def _execute_activities(self):
        for trace in self:
            step = trace.step_id
            # sudo: the queue schedules the activity for the scenario, whoever runs it.
            record = self.env[trace.res_model].sudo().browse(trace.res_id)
            user = record[step.activity_user_field] if step.activity_user_field in record._fields else False
            if not (user and user._name == "res.users"):
                user = trace.scenario_id.user_id
            try:
                with self.env.cr.savepoint():
                    record.activity_schedule(
                        activity_type_id=step.activity_type_id.id,
                        summary=step.activity_summary or False,
                        note=step.activity_note or False,
                        user_id=user.id,
                        date_deadline=fields.Date.context_today(record) + timedelta(days=step.activity_deadline_days),
                    )
            except Exception as error:  # noqa: BLE001 - one bad record must not stop the batch
                trace._finish("failed", "activity_error", str(error))
                continue
            trace._finish("sent")
            trace.sent_at = trace.processed_at

    def _execute_end_steps(self):
        self._finish("sent")
        self.participant_id._end("completed", "end_step")

    def _cancel_children_of_unfinished(self):
        """Steps after a skipped or failed step will not run: say so on their participants."""
        unfinished = self.filtered(lambda t: t.state in ("skipped", "failed"))
        participants = unfinished.participant_id.filtered(lambda p: p.state == "running")
        for participant in participants:
            steps = unfinished.filtered(lambda t, p=participant: t.participant_id == p).step_id
            # Steps that already have a trace (scheduled to run anyway) keep it.
            children = steps.child_ids - participant.trace_ids.step_id
            if children:
                # Create the child traces as cancelled so the history shows why they never ran.
                self.sudo().create(
                    [
                        {
                            "participant_id": participant.id,
                            "step_id": child.id,
                            "state": "cancelled",
                            "reason": "parent_not_done",
                            "processed_at": fields.Datetime.now(),
                        }
                        for child in children
                    ]
                )

    def action_cancel(self):
        self.filtered(lambda t: t.state == "scheduled")._finish("cancelled", "manual")
        return True

    def action_retry(self):
        self.filtered(lambda t: t.state == "failed").write(
            {"state": "scheduled", "scheduled_at": fields.Datetime.now(), "reason": False, "reason_detail": False}
        )
        return True
