import contextlib

from odoo import api, fields, models
from odoo.exceptions import UserError

from .email_automation_policy import DRY_RUN_KEY


class DryRunRollback(Exception):
    """Raised inside a savepoint to undo a dry run: everything it wrote is rolled back."""


@contextlib.contextmanager
def rolled_back(env):
    """Run the block in a savepoint that is always rolled back, then forget the cache:
    whatever the block wrote (records, counters) is gone."""
    with contextlib.suppress(DryRunRollback), env.cr.savepoint():
        yield
        env.flush_all()
        raise DryRunRollback
    env.invalidate_all()


class EmailAutomationParticipant(models.Model):
    """Test runs: a participant marked `is_test` goes through the scenario for one record,
    a step at a time on demand, its e-mails to a test address. It never blocks a real
    participation, the queue never runs its steps, and no figure counts it."""

    _inherit = "email.automation.participant"  # pylint: disable=consider-merging-classes-inherited

    is_test = fields.Boolean(
        string="Test Run",
        readonly=True,
        help="A test run on this record: its e-mails go to the test address, its steps run only "
        "on demand, and it counts in no figure.",
    )
    test_email = fields.Char(string="Test Address", readonly=True)

    def write(self, vals):
        if {"is_test", "test_email"} & set(vals):
            # Turning a real participation into a test (or back) would send a real
            # customer's e-mail to a test inbox, or a test's to the customer.
            raise UserError(self.env._("A participation cannot be turned into a test run or back."))
        return super().write(vals)

    def _run_next_test_step(self):
        """Run the next pending step of the test run `self` now, whatever its delay;
        return its trace (empty when nothing is left)."""
        self.ensure_one()
        if not self.is_test:
            raise UserError(self.env._("Only a test run advances on demand."))
        # sudo: the test run is driven by hand as the queue drives real participations;
        # the wizard that calls it is for e-mail automation managers only.
        participant = self.sudo()
        pending = participant.trace_ids.filtered(lambda t: t.state == "scheduled").sorted(
            lambda t: (t.scheduled_at, t.id)
        )[:1]
        if not pending:
            return pending
        pending.write(
            {"state": "processing", "claimed_at": fields.Datetime.now(), "attempt_count": pending.attempt_count + 1}
        )
        pending._process()
        return pending


class EmailAutomationTrace(models.Model):
    _inherit = "email.automation.trace"  # pylint: disable=consider-merging-classes-inherited

    test_verdict = fields.Char(
        string="Policy Verdict",
        readonly=True,
        help="Test runs only: what consent, suppression, caps, quiet hours and the rate limit "
        "would have done to this e-mail for the real recipient.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        participant_ids = {vals["participant_id"] for vals in vals_list if vals.get("participant_id")}
        # sudo: whether a participation is a test run decides where its e-mails go.
        tests = set(self.env["email.automation.participant"].sudo().browse(participant_ids).filtered("is_test").ids)
        if tests:
            for vals in vals_list:
                if vals.get("participant_id") in tests:
                    vals["is_test"] = True
        return super().create(vals_list)

    def _execute_activities(self):
        """A test run schedules no activity on the real record: it says what it would do."""
        tests = self.filtered(lambda t: t.participant_id.is_test)
        for trace in tests:
            trace._finish(
                "sent",
                False,
                self.env._(
                    "Test run: activity “%(activity)s” not scheduled.",
                    activity=trace.step_id.activity_summary or trace.step_id.activity_type_id.name or "",
                ),
            )
            trace.sent_at = trace.processed_at
        return super(EmailAutomationTrace, self - tests)._execute_activities()


class EmailAutomationMailSender(models.AbstractModel):
    _inherit = "email.automation.mail.sender"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _test_address(self, trace):
        if trace.is_test and trace.participant_id.is_test:
            return trace.participant_id.test_email
        return super()._test_address(trace)

    @api.model
    def _log_in_chatter(self, traces, envelopes=None):
        # A test e-mail reached a test inbox, not the record's contact: nothing to log there.
        return super()._log_in_chatter(traces.filtered(lambda t: not t.is_test), envelopes)


class EmailAutomationPolicy(models.AbstractModel):
    """Test runs send whatever the policies say, and record what they would have done."""

    _inherit = "email.automation.policy"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _apply(self, traces):
        if self.env.context.get(DRY_RUN_KEY):
            return super()._apply(traces)
        tests = traces.filtered(lambda t: t.is_test and t.participant_id.is_test)
        if tests:
            verdicts = self._dry_run(tests)
            for trace in tests:
                trace.test_verdict = verdicts[trace.id]
        return super()._apply(traces - tests)

    @api.model
    def _dry_run(self, traces):
        """{trace id: what the policies would do to the processing `traces`}, judged by the
        policies themselves in a savepoint that is rolled back: nothing they write stays."""
        outcomes = {}
        with rolled_back(self.env):
            self.with_context(**{DRY_RUN_KEY: True})._apply(traces)
            outcomes = {trace.id: (trace.state, trace.reason, trace.scheduled_at) for trace in traces}
        return {trace_id: self._describe_outcome(*outcome) for trace_id, outcome in outcomes.items()}

    @api.model
    def _describe_outcome(self, state, reason, scheduled_at):
        labels = dict(self.env["email.automation.trace"]._fields["reason"]._description_selection(self.env))
        label = labels.get(reason) or reason or ""
        if state == "processing":
            return self.env._("Would have been sent.")
        if state == "scheduled":
            return self.env._(
                "Would have been deferred until %(date)s (UTC): %(reason)s", date=scheduled_at, reason=label
            )
        return self.env._("Would have been skipped: %(reason)s", reason=label)


class EmailAutomationDocumentMixin(models.AbstractModel):
    _inherit = "email.automation.document.mixin"

    def _email_automation_participants(self):
        # A test run is no participation of the document: its smart button does not show it.
        return super()._email_automation_participants().filtered(lambda p: not p.is_test)
