"""Believable past results for the demo scenarios, generated once when the demo data is
installed, so that the flow diagram, the kanban cards, the dashboard and the uplift are not
empty on the first look.

Deterministic: one seeded random generator draws every story in a fixed order; all times are
offsets from the install time (the last 60 days, busier lately), so the demo always looks
recent and two installs show the same figures. Everything is written through the module's
own models and methods (tracking events through the event intake, branch decisions through
their claim, conversions and their attribution through the participants' conversion code).

Nothing generated is left to do: every participant has ended and every trace is sent,
skipped or cancelled, none waits for an outcome window; the queue never picks one and no
e-mail is sent. The records are real (not `is_test`): new demo customers with their
consent, their quotations and opportunities.
"""

import random
from datetime import timedelta

from odoo import api, fields, models

from .email_automation_demo_results_write import DemoHistoryWriter

SEED = "crm_email_automation demo results 1"
DAYS = 60
# Set when the results were generated: they are generated once, from that time.
ANCHOR_PARAM = "crm_email_automation.demo_results_at"
XMLID = "crm_email_automation.email_automation_{kind}_demo_{name}"

QUOTATIONS = 200
HOLDOUT_SHARE = 0.15
LEADS = 60
LEAD_TOPICS = ["Office fit-out", "Conference room furniture", "Ergonomic chairs", "Open space desks", "Storage"]


class EmailAutomationDemoResults(models.AbstractModel):
    _name = "email.automation.demo.results"
    _description = "E-mail Automation Demo Results"

    @api.model
    def _generate_demo_results(self, now=None, force=False):
        """Generate the demo scenarios' past results once (again with `force`, from `now`);
        return the participants created."""
        Participant = self.env["email.automation.participant"]
        # sudo: demo data, written as the module (the conversion fields are the module's own).
        params = self.env["ir.config_parameter"].sudo()
        if params.get_param(ANCHOR_PARAM) and not force:
            return Participant
        now = (now or fields.Datetime.now()).replace(microsecond=0)
        # No chatter, followers nor assignment notifications for the generated records: they
        # would cost most of the time and queue e-mails to the salesperson.
        quiet = self.sudo().with_context(
            tracking_disable=True,
            mail_create_nolog=True,
            mail_create_nosubscribe=True,
            mail_auto_subscribe_no_notify=True,
            mail_notrack=True,
        )
        history = _DemoHistory(quiet.env, now)
        if not history.ready():
            return Participant
        participants = history.run()
        params.set_param(ANCHOR_PARAM, fields.Datetime.to_string(now))
        return participants.with_env(self.env)

    @api.model
    def _set_demo_translation(self, xmlid, field_name, lang, value):
        """The translation of a demo record's field (a whole e-mail body reads better in the
        demo file than in an eval); ignored when the language is not installed."""
        self.env.ref(xmlid).update_field_translations(field_name, {lang: value})
        return True


class _DemoHistory(DemoHistoryWriter):
    """The stories of the demo participants, drawn in a fixed order and written in batch."""

    def __init__(self, env, now):
        self.env = env
        self.now = now
        self.rng = random.Random(SEED)
        # Variants get their own generator: which variant a trace gets does not move the others.
        self.variant_rng = random.Random(SEED + " variants")
        self.scenarios = {
            name: env.ref(XMLID.format(kind="scenario", name=name), raise_if_not_found=False)
            for name in ("welcome", "lead_qualified", "order_confirmed", "order_cancelled", "idle_quotation")
        }
        self.participants = []  # [(vals, [trace plans])], trace plan: (step, vals, [(event type, at)])
        self.conversions = {}  # participant index -> when the goal was reached
        self.decisions = []  # (participant index, trace index, pair, is negative, when)
        self.unsubscribed = set()  # customers who withdrew their consent
        self.bounced = set()  # customers whose address bounced (suppressed)
        self.serial = 0
        self.variant_factors = {}  # variant -> how much more (or less) its e-mails are opened

    def ready(self):
        return all(self.scenarios.values())

    def step(self, name):
        return self.env.ref(XMLID.format(kind="step", name=name))

    def at(self, days_ago):
        return self.now - timedelta(days=days_ago)

    def enrolment_time(self, earliest=DAYS, latest=6):
        """A weekday business hour, more often lately (the scenarios are growing)."""
        when = self.at(earliest - (earliest - latest) * self.rng.random() ** 0.7)
        when = when.replace(hour=self.rng.randint(8, 16), minute=self.rng.randint(0, 59), second=0)
        while when.weekday() >= 5:
            when -= timedelta(days=1)
        return min(when, self.now - timedelta(hours=1))

    # ------------------------------------------------------------------
    # Stories
    # ------------------------------------------------------------------

    def run(self):
        self.create_customers()
        # Some customers were there before the period; the others joined during it.
        self.joined = {c.id: (self.at(DAYS + 30) if i % 5 < 2 else None) for i, c in enumerate(self.customers)}
        for customer in self.customers:
            if not self.joined[customer.id]:
                self.joined[customer.id] = self.enrolment_time(DAYS, 4)
        self.tell_welcomes()
        # Quotations and leads in the order they entered, so that an unsubscribe or a bounce
        # only stops the e-mails after it.
        entries = [(self.enrolment_time(), "quotation") for _i in range(QUOTATIONS)]
        entries += [(self.enrolment_time(), "lead") for _i in range(LEADS)]
        entries.sort()
        holdouts = set(self.rng.sample(range(QUOTATIONS), round(QUOTATIONS * HOLDOUT_SHARE)))
        # Some held-out quotations are confirmed all the same (a fixed tenth: with so few of
        # them, chance alone could make the reminders look useless, or miraculous).
        self.holdout_converters = set(self.rng.sample(sorted(holdouts), round(len(holdouts) * 0.1)))
        self.orders, self.leads = [], []
        for enrolled, kind in entries:
            if kind == "lead":
                self.tell_lead(enrolled)
            else:
                self.tell_quotation(enrolled, len(self.orders) in holdouts)
        return self.write_history()

    def dead(self, partner):
        return partner.id in self.unsubscribed or partner.id in self.bounced

    def skip_reason(self, partner):
        return "suppressed" if partner.id in self.bounced else "consent_withdrawn"

    def customer(self, after):
        """A customer who joined before `after` and still receives marketing e-mail."""
        pool = [c for c in self.customers if self.joined[c.id] < after and not self.dead(c)]
        return self.rng.choice(pool or [c for c in self.customers if not self.dead(c)])

    def add(self, scenario, record_key, partner, enrolled_at, **vals):
        self.participants.append(
            (
                {
                    "scenario_id": self.scenarios[scenario].id,
                    "record_key": record_key,
                    "partner_id": partner.id,
                    "enrolled_at": enrolled_at,
                    "state": "completed",
                    **vals,
                },
                [],
            )
        )
        return len(self.participants) - 1

    def trace(self, index, step, state, at, reason=False, variant=None):
        vals = {"step_id": step.id, "state": state, "reason": reason, "scheduled_at": at, "processed_at": at}
        if state == "sent":
            vals["sent_at"] = vals["claimed_at"] = at
            vals["attempt_count"] = 1
            if step.action_type == "mail":
                self.serial += 1
                vals["message_id"] = f"<{self.serial}.{int(self.now.timestamp())}.demo@crm-email-automation.example>"
        if variant:
            vals["variant_id"] = variant.id
        events = []
        self.participants[index][1].append((step, vals, events))
        return events

    def mail(self, index, step, partner, at, rates, tracked=True):
        """A sent e-mail and what its recipient did with it (until now); returns the first
        human open."""
        variant = self.pick_variant(step)
        events = self.trace(index, step, "sent", at, variant=variant)
        opened = self.engagement(events, partner, at, rates, tracked, self.variant_factors.get(variant, 1.0))
        # What would happen after the install has not happened yet.
        events[:] = [(kind, when) for kind, when in events if when < self.now - timedelta(minutes=1)]
        if any(kind == "unsubscribe" for kind, _when in events):
            self.unsubscribed.add(partner.id)
        return opened if opened and opened < self.now - timedelta(minutes=1) else None

    def engagement(self, events, partner, at, rates, tracked, factor):
        rng = self.rng
        draws = [rng.random() for _i in range(8)]
        if draws[0] < rates.get("bounce", 0.015):
            events.append(("hard_bounce", at + timedelta(seconds=20 + int(draws[1] * 60))))
            self.bounced.add(partner.id)
            return None
        events.append(("delivered", at + timedelta(seconds=5 + int(draws[1] * 60))))
        if not tracked:
            return None
        if draws[2] < 0.12:  # a privacy proxy prefetches the e-mail within seconds
            events.append(("machine_open", at + timedelta(seconds=30 + int(draws[1] * 30))))
        if draws[3] >= rates["open"] * factor:
            return None
        opened = at + timedelta(minutes=10 + int(rng.expovariate(1 / 400) if draws[4] < 0.9 else 2000 * draws[4]))
        events.append(("open", opened))
        if draws[5] < 0.3:
            events.append(("open", opened + timedelta(hours=3 + int(draws[5] * 40))))
        if draws[6] < rates.get("click", 0.0):
            events.append(("click", opened + timedelta(minutes=1 + int(draws[6] * 10))))
            if draws[7] < 0.1:  # a link scanner opened the link as it arrived
                events.append(("machine_click", at + timedelta(seconds=40)))
        if draws[7] > 1 - rates.get("reply", 0.0):
            events.append(("reply", opened + timedelta(hours=1 + int(draws[7] * 5))))
        elif draws[7] < rates.get("unsubscribe", 0.012):
            events.append(("unsubscribe", opened + timedelta(minutes=2)))
        return opened

    def pick_variant(self, step):
        """The A/B variant the e-mail went out in, by share; the last variant reads better."""
        if "variant_ids" not in step._fields or not step.variant_ids:
            return None
        variants = step.variant_ids.sorted("id")
        for rank, variant in enumerate(variants):
            self.variant_factors[variant] = 1.3 if rank == len(variants) - 1 else 0.85
        return self.variant_rng.choices(variants, weights=[max(v.share, 1) for v in variants])[0]

    def tell_quotation(self, enrolled, is_holdout):
        """Idle quotations: reminder; not opened in 2 days: another subject; after 3 days the
        second reminder; confirmed quotations stop it (and get the order confirmation)."""
        rng = self.rng
        reminder_1, reminder_2 = self.step("idle_quotation_reminder_1"), self.step("idle_quotation_reminder_2")
        nudge = self.step("idle_quotation_not_opened")
        number = len(self.orders)
        partner = self.customer(enrolled)
        index = self.add("idle_quotation", ("order", number), partner, enrolled, is_holdout=is_holdout)
        sent = enrolled + timedelta(minutes=rng.randint(1, 20))
        if is_holdout:
            self.trace(index, reminder_1, "skipped", sent, "holdout")
            for child in (nudge, reminder_2):
                self.trace(index, child, "cancelled", sent, "parent_not_done")
            chance, opened = float(number in self.holdout_converters), None
        else:
            opened = self.mail(index, reminder_1, partner, sent, {"open": 0.45, "reply": 0.06})
            chance = 0.35 if opened and opened <= sent + timedelta(days=2) else 0.14
        converted = None
        if rng.random() < chance:
            base = opened or sent + timedelta(days=rng.choice((1, 3, 4)))
            converted = min(base + timedelta(hours=rng.randint(2, 96)), self.now - timedelta(hours=1))
        end = sent if is_holdout else self.tell_reminder_branches(index, partner, sent, opened, converted)
        state = "sale" if converted else ("cancel" if rng.random() < 0.3 else "sent")
        cancelled = min(end + timedelta(days=rng.randint(1, 10)), self.now - timedelta(hours=2))
        self.orders.append(
            {
                "partner": partner,
                "state": state,
                "date_order": converted or enrolled - timedelta(days=2),
                "lines": 1 if rng.random() < 0.8 else 2,
            }
        )
        values = self.participants[index][0]
        values["ended_at"] = min(converted, end) if converted else end
        if converted:
            values.update(state="converted", exit_reason="goal_reached")
            self.conversions[index] = converted
            follow = self.add("order_confirmed", ("order", number), partner, converted)
            self.transactional(follow, "order_confirmed_mail", partner, converted)
        elif state == "cancel":
            follow = self.add("order_cancelled", ("order", number), partner, cancelled)
            self.transactional(follow, "order_cancelled_mail", partner, cancelled)

    def tell_reminder_branches(self, index, partner, sent, opened, converted):
        """The steps after the first reminder, as the queue would have run them; returns when
        the participant was done."""
        nudge, reminder_2 = self.step("idle_quotation_not_opened"), self.step("idle_quotation_reminder_2")
        reminder_1_trace = len(self.participants[index][1]) - 1
        end = sent
        window, second = sent + timedelta(days=2), sent + timedelta(days=3)
        if converted and converted < window and not (opened and opened <= window):
            # Converted while still waiting: nothing decided, the second reminder cancelled.
            self.trace(index, reminder_2, "cancelled", converted, "goal_reached")
            return converted
        if opened and opened <= window:
            self.decisions.append((index, reminder_1_trace, "opened", False, opened))
        else:
            self.decisions.append((index, reminder_1_trace, "opened", True, window))
            end = window + timedelta(minutes=5)
            if self.dead(partner):
                self.trace(index, nudge, "skipped", end, self.skip_reason(partner))
            else:
                self.mail(index, nudge, partner, end, {"open": 0.3, "click": 0.45, "bounce": 0.0})
        if converted and converted < second:
            self.trace(index, reminder_2, "cancelled", converted, "goal_reached")
            return converted
        if self.dead(partner):
            self.trace(index, reminder_2, "skipped", second, self.skip_reason(partner))
        else:
            self.mail(index, reminder_2, partner, second, {"open": 0.35, "reply": 0.08, "bounce": 0.0})
        return second

    def transactional(self, index, step_name, partner, at):
        step = self.step(step_name)
        when = at + timedelta(minutes=1)
        if partner.id in self.bounced:  # transactional e-mail ignores consent, not bounces
            self.trace(index, step, "skipped", when, "suppressed")
        else:
            self.mail(index, step, partner, when, {"open": 0.0, "bounce": 0.0}, tracked=False)
        self.participants[index][0]["ended_at"] = when

    def tell_lead(self, enrolled):
        """Qualified leads: follow-up e-mail, a call two days later; some are won."""
        rng = self.rng
        mail_step, call_step = self.step("lead_mail"), self.step("lead_call")
        partner = self.customer(enrolled)
        index = self.add("lead_qualified", ("lead", len(self.leads)), partner, enrolled)
        sent = enrolled + timedelta(minutes=rng.randint(1, 10))
        opened = self.mail(index, mail_step, partner, sent, {"open": 0.55, "reply": 0.12, "unsubscribe": 0.02})
        call = sent + timedelta(days=2)
        self.trace(index, call_step, "sent", call)
        won = None
        if rng.random() < (0.35 if opened else 0.18):
            won = min(call + timedelta(days=rng.randint(1, 20)), self.now - timedelta(hours=1))
        values = self.participants[index][0]
        values["ended_at"] = call
        if won:
            values.update(state="converted", exit_reason="goal_reached")
            self.conversions[index] = won
        self.leads.append(
            {
                "partner": partner,
                "won": won,
                "lost": not won and enrolled < self.at(25),
                "name": f"{rng.choice(LEAD_TOPICS)}: {partner.name}",
                "revenue": rng.randint(8, 60) * 500,
            }
        )

    def tell_welcomes(self):
        mail_step, call_step = self.step("welcome_mail"), self.step("welcome_call")
        for customer in self.customers:
            joined = self.joined[customer.id]
            if joined < self.at(DAYS):
                continue
            index = self.add("welcome", ("partner", customer.id), customer, joined)
            self.mail(index, mail_step, customer, joined + timedelta(minutes=1), {"open": 0.0}, tracked=False)
            self.trace(index, call_step, "sent", joined + timedelta(days=3))
            self.participants[index][0]["ended_at"] = joined + timedelta(days=3)
