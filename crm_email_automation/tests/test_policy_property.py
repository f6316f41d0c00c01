import contextlib
from datetime import datetime, timedelta

import pytz
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import tagged

from .test_policy import PolicyCommon

TIME_ZONES = ["Europe/Warsaw", "America/New_York", "Asia/Tokyo", "UTC"]

partner_strategy = st.fixed_dictionaries(
    {
        "consent": st.sampled_from(["granted", "granted", "unknown", "pending", "withdrawn"]),
        "blacklisted": st.sampled_from([False, False, False, True]),
        "suppressed": st.sampled_from([False, False, False, True]),
        "valid_email": st.sampled_from([True, True, True, False]),
        "tz": st.sampled_from(TIME_ZONES),
        "categories": st.sampled_from([("marketing",), ("transactional",), ("marketing", "transactional")]),
        # Ages (hours before now) of the marketing e-mails this partner already received.
        "history": st.lists(st.integers(min_value=1, max_value=24 * 12), max_size=4),
        "cap_override": st.sampled_from([0, 0, 1, 2]),
    }
)

world_strategy = st.fixed_dictionaries(
    {
        "partners": st.lists(partner_strategy, min_size=2, max_size=6),
        "policy": st.sampled_from(["opt_in", "opt_in", "opt_out"]),
        "cap_count": st.integers(min_value=1, max_value=4),
        "cap_days": st.integers(min_value=1, max_value=10),
        "window": st.tuples(st.integers(min_value=0, max_value=11), st.integers(min_value=13, max_value=24)),
        "send_days": st.sampled_from(["0123456", "0123456", "01234", "12345", "56"]),
        "clock": st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
    }
)


@tagged("post_install", "-at_install")
class TestPolicyProperty(PolicyCommon):
    """Whatever the partners, consents, lists, caps and clock: no marketing e-mail reaches
    the SMTP server without granted consent, outside the recipient's window or beyond the
    cap; a transactional e-mail always goes to a valid, unsuppressed address."""

    def test_policy_invariants(self):
        sent = {"marketing": 0, "transactional": 0}

        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(world=world_strategy)
        def check(world):
            with contextlib.closing(self.env.cr.savepoint()):
                self.smtp.clear()
                for category, count in self.check_world(world).items():
                    sent[category] += count
            self.env.invalidate_all()
            self.env.registry.clear_cache()

        check()
        # The examples must have exercised both sides, or the property proves nothing.
        self.assertGreater(sent["marketing"], 5, sent)
        self.assertGreater(sent["transactional"], 5, sent)

    def check_world(self, world):
        config = self.env["ir.config_parameter"]
        config.set_param("crm_email_automation.consent_policy", world["policy"])
        config.set_param("crm_email_automation.frequency_cap_count", world["cap_count"])
        config.set_param("crm_email_automation.frequency_cap_days", world["cap_days"])
        config.set_param("crm_email_automation.quiet_hours", True)
        config.set_param("crm_email_automation.send_window_start", world["window"][0])
        config.set_param("crm_email_automation.send_window_end", world["window"][1])
        config.set_param("crm_email_automation.send_days", world["send_days"])
        clock = world["clock"]
        specs = {}
        partners = self.env["res.partner"]
        for index, spec in enumerate(world["partners"]):
            email = f"p{index}@example.com" if spec["valid_email"] else f"p{index}-at-example"
            partner = self.env["res.partner"].create(
                {
                    "name": f"Person {index}",
                    "email": email,
                    "tz": spec["tz"],
                    "email_automation_cap_count": spec["cap_override"],
                }
            )
            if spec["consent"] != "unknown":
                event = {"pending": "doi_sent", "granted": "granted", "withdrawn": "withdrawn"}[spec["consent"]]
                partner._email_consent_record(event, "user")
            if spec["blacklisted"] and spec["valid_email"]:
                self.env["mail.blacklist"]._add(email)
            if spec["suppressed"] and spec["valid_email"]:
                self.env["email.automation.suppression"]._suppress([email], "hard_bounce")
            if spec["history"]:
                self.history(partner, [clock - timedelta(hours=age) for age in spec["history"]])
            specs[partner.id] = spec
            partners |= partner
        with freeze_time(clock):
            scenarios = {
                "marketing": self.marketing_scenario(name="Property marketing"),
                "transactional": self.create_scenario(name="Property transactional"),
            }
            for category, scenario in scenarios.items():
                scenario._enrol(partners.filtered(lambda p, c=category: c in specs[p.id]["categories"]).ids)
            self.run_queue()

        received = {}
        Trace = self.env["email.automation.trace"]
        for message in self.smtp.messages:
            trace = Trace.browse(int(message["X-Odoo-Automation-Trace"]))
            received.setdefault((trace.partner_id.id, trace.category), []).append(message)

        for partner in partners:
            spec = specs[partner.id]
            marketing = received.get((partner.id, "marketing"), [])
            transactional = received.get((partner.id, "transactional"), [])
            self.assertLessEqual(len(marketing), 1)
            if marketing:
                self.assertTrue(spec["valid_email"])
                self.assertFalse(spec["blacklisted"] or spec["suppressed"], "blacklisted or suppressed")
                if world["policy"] == "opt_in":
                    self.assertEqual(spec["consent"], "granted", "marketing without consent")
                else:
                    self.assertNotEqual(spec["consent"], "withdrawn", "marketing after withdrawal")
                local = pytz.utc.localize(clock).astimezone(pytz.timezone(spec["tz"]))
                hours = local.hour + local.minute / 60 + local.second / 3600
                start, end = world["window"]
                self.assertTrue(start <= hours < end, f"sent at {local} outside {start}-{end}")
                self.assertIn(str(local.weekday()), world["send_days"], f"sent on a {local:%A}")
                cap = spec["cap_override"] or world["cap_count"]
                recent = [age for age in spec["history"] if age < world["cap_days"] * 24]
                self.assertLess(len(recent), cap, "sent beyond the frequency cap")
            if "transactional" in spec["categories"] and spec["valid_email"] and not spec["suppressed"]:
                self.assertEqual(len(transactional), 1, f"transactional e-mail not sent to {spec}")
            else:
                self.assertFalse(transactional)
            # Every trace of the partner ended with a state and, if not sent, a reason.
            for trace in Trace.search(
                [("partner_id", "=", partner.id), ("scenario_id", "in", [s.id for s in scenarios.values()])]
            ):
                self.assertIn(trace.state, ("sent", "skipped", "scheduled"))
                if trace.state != "sent":
                    self.assertTrue(trace.reason, f"{trace.state} without a reason")
        return {
            category: sum(len(messages) for (_p, c), messages in received.items() if c == category)
            for category in ("marketing", "transactional")
        }
