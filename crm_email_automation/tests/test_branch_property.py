import contextlib
from datetime import timedelta

from freezegun import freeze_time
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from .branch_common import T0, BranchCommon, event_for

# Minutes after the e-mail was sent at which each pair's "not …" window closes.
WINDOWS = {"opened": 6 * 60, "clicked": 12 * 60}
PROVES = {"open": {"opened"}, "click": {"opened", "clicked"}}
HORIZON = 24 * 60
# A webhook delivered again this many minutes after its first delivery (providers retry
# until answered, and a retry may come after the window was scanned).
REDELIVERY = 7 * 60
MAIL_CLIENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
# Minutes around the windows' ends, where the order of facts matters most.
EDGES = [0, 60, 359, 360, 361, 400, 719, 720, 721, 800]
minute = st.one_of(st.sampled_from(EDGES), st.integers(min_value=0, max_value=HORIZON))

event_strategy = st.fixed_dictionaries(
    {
        "kind": st.just("event"),
        "participant": st.integers(min_value=0, max_value=2),
        "type": st.sampled_from(["open", "open", "click", "machine_open", "delivered", "reply"]),
        # Reported by a provider's webhook, or seen by Odoo itself: the mail client fetching
        # the open pixel or a tracked link (then at once: "late" does not apply).
        "source": st.sampled_from(["webhook", "webhook", "mail_client"]),
        "occurred": minute,
        # How late the event arrives (webhooks retry, pixels load late).
        "late": st.sampled_from([0, 0, 1, 30, 60 * 5, 60 * 8, 60 * 20]),
        # Sent again as is in the same batch (a replay), reported a second time under another
        # key, or delivered again later on its own (a retried webhook, a second fetch).
        "duplicate": st.sampled_from([None, None, "replay", "again", "later"]),
    }
)
scan_strategy = st.fixed_dictionaries({"kind": st.just("scan"), "at": st.integers(min_value=0, max_value=HORIZON + 60)})


@tagged("post_install", "-at_install")
class TestBranchProperty(BranchCommon):
    """For any order, timing and duplication of events and queue runs, each participant
    takes exactly one side of each outcome pair once the window closed, never both: the
    side the first deciding fact chose (an in-window human event, or the window scan)."""

    def test_each_participant_takes_exactly_one_side_of_each_pair(self):
        scenario = self.branch_scenario(
            [
                {"template": "Thanks", "trigger_type": "mail_opened"},
                {
                    "template": "Reminder",
                    "trigger_type": "mail_not_opened",
                    "trigger_window": WINDOWS["opened"],
                    "trigger_window_unit": "minutes",
                },
                {"template": "Link", "trigger_type": "mail_clicked"},
                {
                    "template": "Nudge",
                    "trigger_type": "mail_not_clicked",
                    "trigger_window": WINDOWS["clicked"],
                    "trigger_window_unit": "minutes",
                },
            ]
        )
        partners = self.env["res.partner"].create(
            [{"name": f"Branch {i}", "email": f"branch{i}@example.com"} for i in range(3)]
        )
        seen = {"positive": 0, "negative": 0}

        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(actions=st.lists(st.one_of(event_strategy, scan_strategy), max_size=12))
        # The window closes and is scanned, then an open from within the window arrives late.
        @example(
            actions=[
                {"kind": "scan", "at": 400},
                {
                    "kind": "event",
                    "participant": 0,
                    "type": "open",
                    "occurred": 100,
                    "late": 480,
                    "source": "webhook",
                    "duplicate": None,
                },
            ]
        )
        # A click seen by Odoo inside the window, its webhook copy redelivered after the scan.
        @example(
            actions=[
                {
                    "kind": "event",
                    "participant": 1,
                    "type": "click",
                    "occurred": 700,
                    "late": 0,
                    "source": "mail_client",
                    "duplicate": "later",
                },
                {"kind": "scan", "at": 721},
                {
                    "kind": "event",
                    "participant": 1,
                    "type": "click",
                    "occurred": 700,
                    "late": 60,
                    "source": "webhook",
                    "duplicate": "later",
                },
            ]
        )
        def check(actions):
            with contextlib.closing(self.env.cr.savepoint()):
                for side, count in self.check_actions(scenario, partners, actions).items():
                    seen[side] += count
            self.env.invalidate_all()

        check()
        # Both sides must have been exercised, or the property proves nothing.
        self.assertGreater(seen["positive"], 10, seen)
        self.assertGreater(seen["negative"], 10, seen)

    def check_actions(self, scenario, partners, actions):
        parent = scenario.step_ids.filtered(lambda s: s.trigger_type == "begin")
        Participant = self.env["email.automation.participant"]
        traces = self.env["email.automation.trace"]
        with freeze_time(T0):
            for partner in partners:
                participant = Participant.create(
                    {"scenario_id": scenario.id, "res_id": partner.id, "partner_id": partner.id, "enrolled_at": T0}
                )
                trace = traces.create(
                    {
                        "participant_id": participant.id,
                        "step_id": parent.id,
                        "state": "sent",
                        "sent_at": T0,
                        "email_to": partner.email,
                        "provider_id": self.provider.id,
                    }
                )
                # What the queue does once the e-mail is sent.
                participant._schedule_next_steps(trace)
                traces |= trace

        # Each action at the minute it happens (an event when it arrives), in that order.
        timeline = []
        for index, action in enumerate(actions):
            if action["kind"] == "scan":
                timeline.append((action["at"], index, action))
                continue
            if self.seen_by_odoo(action):
                action = {**action, "late": 0}
            at = action["occurred"] + action["late"]
            timeline.append((at, index, action))
            if action["duplicate"] == "later":
                timeline.append((at + REDELIVERY, index, {**action, "duplicate": None}))
        timeline.append((HORIZON + 120, len(actions), {"kind": "scan", "at": HORIZON + 120}))
        expected = {}  # (trace id, pair) -> negative?
        Event = self.env["email.automation.event"]
        for at, _index, action in sorted(timeline, key=lambda item: item[:2]):
            with freeze_time(T0 + timedelta(minutes=at)):
                if action["kind"] == "scan":
                    self.run_queue()
                    for trace in traces:
                        for pair, window in WINDOWS.items():
                            if at >= window:
                                expected.setdefault((trace.id, pair), True)
                    continue
                trace = traces[action["participant"]]
                occurred = T0 + timedelta(minutes=action["occurred"])
                copies = 2 if action["duplicate"] in ("replay", "again") else 1
                if self.seen_by_odoo(action):
                    for _copy in range(copies):
                        if action["type"] == "open":
                            Event._track_open(trace.id, user_agent=MAIL_CLIENT)
                        else:
                            Event._track_click(trace.id, "https://example.com/offer", user_agent=MAIL_CLIENT)
                    # Fetched within seconds of sending: a privacy proxy or a link scanner.
                    human = action["occurred"] >= 1
                else:
                    event = event_for(trace, action["type"], occurred)
                    batch = [event]
                    if action["duplicate"] == "replay":
                        batch.append(event)
                    elif action["duplicate"] == "again":
                        batch.append(event_for(trace, action["type"], occurred, message_id=f"again-{trace.id}"))
                    Event._ingest(self.provider, batch)
                    human = True
                for pair in PROVES.get(action["type"], ()) if human else ():
                    if action["occurred"] <= WINDOWS[pair]:
                        expected.setdefault((trace.id, pair), False)

        sides = {"opened": ("Thanks", "Reminder"), "clicked": ("Link", "Nudge")}
        counts = {"positive": 0, "negative": 0}
        for trace in traces:
            names = trace.participant_id.trace_ids.mapped("step_id.name")
            for pair, (positive, negative) in sides.items():
                taken = (names.count(positive), names.count(negative))
                self.assertIn(taken, [(1, 0), (0, 1)], f"{pair} of trace {trace.id}: {taken} after {actions}")
                self.assertEqual(taken == (0, 1), expected[trace.id, pair], f"{pair}: wrong side after {actions}")
                counts["negative" if taken == (0, 1) else "positive"] += 1
            self.assertFalse(trace.outcome_due_at)
        decisions = self.env["email.automation.branch.decision"].search_count([("trace_id", "in", traces.ids)])
        self.assertEqual(decisions, 2 * len(traces))
        return counts

    @staticmethod
    def seen_by_odoo(action):
        """Whether the event is a mail client's fetch of the pixel or a tracked link."""
        return action["source"] == "mail_client" and action["type"] in ("open", "click")
