"""Which way each participant went at each branch, decided once.

A step followed by outcome steps (opened / not opened, clicked / not clicked, replied / not
replied, bounced, record matches / does not match) is a branch point. For one sent trace of
it, each outcome pair is decided exactly once, by a row of `email.automation.branch.decision`
unique on (trace, pair) and inserted with ON CONFLICT DO NOTHING: whoever inserts it first
(the event intake for a positive outcome, the queue for a window that closed, the queue for
a condition split) schedules its side's steps; anyone else (a late or duplicated event, a
second worker, the window scan racing a webhook) gets no row back and schedules nothing.

Why a decision row rather than the child traces' own unique (participant, step) key: the
two sides of a pair are different steps, possibly several on each side or none on one, so no
constraint on the child traces can say "not both sides"; the decision row is the one key
both sides compete for, and it also records why a branch was (not) taken. Under Odoo's
REPEATABLE READ (webhooks, HTTP routes) a concurrent insert of the same row raises a
serialization failure instead of returning nothing; Odoo retries the request, which then
sees the row and schedules nothing. The queue decides in READ COMMITTED, where the second
insert just returns no row.
"""

from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from .email_automation_step_outcome import CONDITION_OUTCOMES, MAIL_OUTCOMES

# How long a step on a positive outcome with no window (and no "not …" step beside it)
# keeps the participant waiting for the event.
DEFAULT_POSITIVE_WAIT = timedelta(days=30)
# Human events (never machine_open / machine_click) and the outcome pairs they decide
# positively; a click proves the e-mail was opened.
POSITIVE_EVENTS = {
    "open": ("opened",),
    "click": ("opened", "clicked"),
    "reply": ("replied",),
    "soft_bounce": ("bounced",),
    "hard_bounce": ("bounced",),
    "invalid_email": ("bounced",),
}


class EmailAutomationBranchDecision(models.Model):
    _name = "email.automation.branch.decision"
    _description = "E-mail Automation Branch Decision"
    _order = "decided_at desc, id desc"
    _rec_name = "pair"
    _log_access = False

    trace_id = fields.Many2one(
        "email.automation.trace", string="Previous Step Trace", required=True, readonly=True, ondelete="cascade"
    )
    step_id = fields.Many2one(related="trace_id.step_id", string="Previous Step")
    participant_id = fields.Many2one(related="trace_id.participant_id")
    pair = fields.Char(string="Outcome", required=True, readonly=True)
    is_negative = fields.Boolean(string="Negative Outcome", readonly=True)
    decided_at = fields.Datetime(required=True, readonly=True)

    _sql_constraints = [
        (
            "trace_pair_uniq",
            "unique(trace_id, pair)",
            "An outcome and its negation are decided once per participant and step.",
        ),
    ]

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    @api.model
    def _schedule_outcome_steps(self, done_traces):
        """The steps `done_traces` just completed: split on their conditions now, and start
        waiting for what the recipients do with their e-mails."""
        done = done_traces.filtered(lambda t: t.state == "sent" and t.participant_id.state == "running")
        if not done:
            return
        self._decide_conditions(done)
        self._refresh_outcome_due(done.filtered(lambda t: self._mail_pairs(t)))

    @api.model
    def _decide_on_events(self, trace_ids):
        """Events just recorded on `trace_ids`: decide the positive outcomes they prove and
        schedule their steps, counting the delay from the (first) event."""
        Trace = self.env["email.automation.trace"].sudo()
        traces = Trace.browse(self._traces_at_mail_branches(trace_ids)).filtered(lambda t: self._mail_pairs(t))
        if not traces:
            return
        first = self._first_events(traces)
        rows = []
        for trace in traces:
            for pair, close in self._mail_pairs(trace).items():
                when = first.get((trace.id, pair))
                # An event after the window closed does not count: the negation wins.
                if when and when <= close:
                    rows.append((trace, pair, False, when))
        self._schedule_children(self._claim(rows))
        self._refresh_outcome_due(traces)

    @api.model
    def _traces_at_mail_branches(self, trace_ids):
        """The ids among `trace_ids` of sent traces, of running participants, whose step has
        mail outcome steps after it. One query: an open or a click on an e-mail that
        branches nowhere (most of them, and the hot tracking routes) costs no ORM reads."""
        self.env["email.automation.trace"].flush_model(["state", "participant_id", "step_id"])
        self.env["email.automation.participant"].flush_model(["state"])
        self.env["email.automation.step"].flush_model(["parent_id", "trigger_type", "active"])
        self.env.cr.execute(
            SQL(
                """
                SELECT trace.id
                  FROM email_automation_trace trace
                  JOIN email_automation_participant participant ON participant.id = trace.participant_id
                 WHERE trace.id = ANY(%(ids)s) AND trace.state = 'sent' AND participant.state = 'running'
                   AND EXISTS (
                       SELECT 1 FROM email_automation_step child
                        WHERE child.parent_id = trace.step_id AND child.active
                          AND child.trigger_type = ANY(%(types)s)
                   )
                """,
                ids=list(trace_ids),
                types=list(MAIL_OUTCOMES),
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _decide_closed_windows(self, limit=500, auto_commit=False):
        """Decide the negative outcomes whose window closed without the event, batch after
        batch (the partial index on outcome_due_at finds them). Returns how many traces."""
        Trace = self.env["email.automation.trace"].sudo()
        now = fields.Datetime.now()
        total = 0
        while True:
            traces = Trace.search([("outcome_due_at", "<=", now)], order="outcome_due_at, id", limit=limit)
            if not traces:
                break
            decided = self._decided_pairs(traces)
            rows = [
                (trace, pair, True, close)
                for trace in traces
                if trace.state == "sent" and trace.participant_id.state == "running"
                for pair, close in self._mail_pairs(trace).items()
                if close <= now and (trace.id, pair) not in decided
            ]
            self._schedule_children(self._claim(rows))
            self._refresh_outcome_due(traces)
            traces.participant_id._complete_finished()
            total += len(traces)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            if len(traces) < limit:
                break
        return total

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    @api.model
    def _mail_pairs(self, trace):
        """{pair: close time} of the mail outcome steps after `trace`'s step.

        A pair with a negation closes when its shortest "not …" window ends (that deadline
        decides it); a pair with only positive steps when their longest window ends (30
        days for a step without one)."""
        children = defaultdict(list)
        for child in trace.step_id.child_ids:
            if child.trigger_type in MAIL_OUTCOMES:
                children[child.outcome_pair].append(child)
        if not children:
            return {}
        sent = trace.sent_at or trace.processed_at or fields.Datetime.now()
        pairs = {}
        for pair, steps in children.items():
            negatives = [step for step in steps if step.is_negative_outcome]
            if negatives:
                pairs[pair] = sent + min(step._window_timedelta() for step in negatives)
            else:
                pairs[pair] = sent + max(
                    (step._window_timedelta() if step.trigger_window else DEFAULT_POSITIVE_WAIT) for step in steps
                )
        return pairs

    @api.model
    def _first_events(self, traces):
        """{(trace id, pair): time of the first human event proving it}, read from the events."""
        self.env.cr.execute(
            SQL(
                """
                SELECT trace_id, event_type, url, MIN(occurred_at)
                  FROM email_automation_event
                 WHERE trace_id = ANY(%(ids)s) AND event_type = ANY(%(types)s)
              GROUP BY trace_id, event_type, url
                """,
                ids=traces.ids,
                types=list(POSITIVE_EVENTS),
            )
        )
        first = {}
        for trace_id, event_type, url, occurred_at in self.env.cr.fetchall():
            pairs = list(POSITIVE_EVENTS[event_type])
            if event_type == "click" and (url or "").strip():
                pairs.append(f"clicked {url.strip()}")
            for pair in pairs:
                key = (trace_id, pair)
                if key not in first or occurred_at < first[key]:
                    first[key] = occurred_at
        return first

    @api.model
    def _decide_conditions(self, done):
        """Split on the branch filters of the condition steps after `done`, read as each
        scenario's responsible user (as the queue reads every condition)."""
        now = fields.Datetime.now()
        rows = []
        for scenario in done.scenario_id:
            traces = done.filtered(lambda t, s=scenario: t.scenario_id == s)
            by_pair = defaultdict(lambda: [None, []])  # pair -> [a step with its filter, traces]
            for trace in traces:
                for child in trace.step_id.child_ids:
                    if child.trigger_type in CONDITION_OUTCOMES:
                        entry = by_pair[(trace.step_id.id, child.outcome_pair)]
                        entry[0] = child
                        if trace not in entry[1]:
                            entry[1].append(trace)
            if not by_pair:
                continue
            Model = scenario._responsible_records()
            for (_step_id, pair), (child, pair_traces) in by_pair.items():
                domain = child._parse_trigger_domain(env=Model.env)
                res_ids = [trace.res_id for trace in pair_traces]
                matching = set(Model.search(domain + [("id", "in", res_ids)]).ids)
                rows += [(trace, pair, trace.res_id not in matching, now) for trace in pair_traces]
        self._schedule_children(self._claim(rows))

    @api.model
    def _claim(self, rows):
        """Insert the decisions `rows` [(trace, pair, is_negative, when)]; return those this
        transaction won (the same tuples), the others being decided already."""
        rows = list({(trace.id, pair): (trace, pair, negative, when) for trace, pair, negative, when in rows}.values())
        if not rows:
            return []
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO email_automation_branch_decision (trace_id, pair, is_negative, decided_at)
                SELECT * FROM unnest(%(traces)s::int[], %(pairs)s::varchar[], %(negatives)s::bool[],
                                     %(times)s::timestamp[])
                    ON CONFLICT (trace_id, pair) DO NOTHING
             RETURNING trace_id, pair
                """,
                traces=[row[0].id for row in rows],
                pairs=[row[1] for row in rows],
                negatives=[row[2] for row in rows],
                times=[row[3] for row in rows],
            )
        )
        won = set(self.env.cr.fetchall())
        return [row for row in rows if (row[0].id, row[1]) in won]

    @api.model
    def _schedule_children(self, won):
        """Create the traces of the steps on the side each decision in `won` took.

        Delays count from the event (positive), from the step's own window close
        (negative), or from now (condition split)."""
        vals_list = []
        for trace, pair, negative, when in won:
            sent = trace.sent_at or trace.processed_at or when
            for child in trace.step_id.child_ids:
                if child.outcome_pair != pair or child.is_negative_outcome != negative:
                    continue
                start = when
                if child.trigger_type in MAIL_OUTCOMES and child.trigger_window:
                    if negative:
                        start = sent + child._window_timedelta()
                    elif when > sent + child._window_timedelta():
                        continue  # opened, but later than this step waits for
                vals_list.append(
                    {
                        "participant_id": trace.participant_id.id,
                        "step_id": child.id,
                        "scheduled_at": start + child._delay_timedelta(),
                    }
                )
        if not vals_list:
            return
        Trace = self.env["email.automation.trace"].sudo()
        existing = Trace.search(
            [
                ("participant_id", "in", [vals["participant_id"] for vals in vals_list]),
                ("step_id", "in", [vals["step_id"] for vals in vals_list]),
            ]
        )
        taken = {(trace.participant_id.id, trace.step_id.id) for trace in existing}
        vals_list = [vals for vals in vals_list if (vals["participant_id"], vals["step_id"]) not in taken]
        # The traces wake the queue when they are due (email_automation_trace_wake_up.py).
        Trace.create(vals_list)

    @api.model
    def _decided_pairs(self, traces):
        self.env.cr.execute(
            SQL(
                "SELECT trace_id, pair FROM email_automation_branch_decision WHERE trace_id = ANY(%(ids)s)",
                ids=traces.ids,
            )
        )
        return set(self.env.cr.fetchall())

    @api.model
    def _refresh_outcome_due(self, traces):
        """Set on each trace when its next undecided outcome window closes (empty when
        nothing is left to wait for): the participant waits until then."""
        if not traces:
            return
        decided = self._decided_pairs(traces)
        by_due = defaultdict(list)
        for trace in traces:
            due = False
            if trace.state == "sent" and trace.participant_id.state == "running":
                closes = [close for pair, close in self._mail_pairs(trace).items() if (trace.id, pair) not in decided]
                due = min(closes, default=False)
            if due != trace.outcome_due_at:
                by_due[due].append(trace.id)
        for due, ids in by_due.items():
            traces.browse(ids).write({"outcome_due_at": due})
