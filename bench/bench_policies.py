"""What the consent and sending policies cost the engine, per trace.

Runs the queue end to end (claim, decide, render, send over SMTP to a local sink, log in
the chatter, commit per e-mail, as the cron does) on batches of marketing traces, with
the policies off and on, alternately, with 50,000 past marketing sends in the history.
Prints both costs per trace and their ratio; the policies should add at most 15 %.
Exits non-zero when they add more.

Run it on a throw-away database where crm_email_automation is installed (a copy of a
development database is fine: `createdb -T dev_db bench_db`); it commits its data there:

    python bench/bench_policies.py -c odoo.conf -d bench_db [--history 50000] [--per-run 1000]
"""

import argparse
import logging
import socket
import statistics
import threading
import time
from datetime import datetime

from aiosmtpd.controller import Controller

import odoo
from odoo import SUPERUSER_ID, api
from odoo.tools import config

SKIP_POLICIES_KEY = "email_automation_skip_policies"


class SinkHandler:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.count += 1
        return "250 OK"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup(env, args, port):
    env["email.automation.scenario"].search([("state", "=", "running")]).write({"state": "paused"})
    env["ir.mail_server"].search([]).write({"active": False})
    env["ir.mail_server"].create(
        {"name": "Bench sink", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_encryption": "none", "sequence": 1}
    )
    env.company.email = "bench.sender@example.com"
    now = datetime.utcnow()
    set_param = env["ir.config_parameter"].set_param
    # Policies as a real installation would have them; none of them stops the bench mail.
    set_param("crm_email_automation.consent_policy", "opt_in")
    set_param("crm_email_automation.frequency_cap_count", 3)
    set_param("crm_email_automation.frequency_cap_days", 7)
    set_param("crm_email_automation.quiet_hours", True)
    set_param("crm_email_automation.send_window_start", max(0, now.hour - 2))
    set_param("crm_email_automation.send_window_end", min(24, now.hour + 3))
    set_param("crm_email_automation.send_days", "0123456")
    set_param("crm_email_automation.rate_limit_minute", 1_000_000)
    set_param("crm_email_automation.rate_limit_hour", 10_000_000)
    set_param("crm_email_automation.batch_size", 200)

    template = env["mail.template"].create(
        {
            "name": "Bench newsletter",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "subject": "News for {{ object.name }}",
            "email_from": "{{ object.env.company.email_formatted }}",
            "body_html": "<p>Hello <t t-out='object.name'/>, here is what is new this month.</p>",
        }
    )
    runs = args.rounds * 2
    partners = env["res.partner"]
    for start in range(0, args.per_run * runs, 2000):
        partners |= env["res.partner"].create(
            [
                {"name": f"Bench Person {i:06d}", "email": f"bench.{i:06d}@example.com", "lang": "en_US", "tz": "UTC"}
                for i in range(start, min(start + 2000, args.per_run * runs))
            ]
        )
    partners._email_consent_record("granted", "import")
    # Unrelated blacklisted and suppressed addresses, so that those look-ups find rows.
    env.cr.execute(
        "INSERT INTO mail_blacklist (email, active, create_date, write_date) "
        "SELECT 'blocked.' || n || '@example.org', true, now(), now() FROM generate_series(1, 5000) n"
    )
    env["email.automation.suppression"]._suppress([f"gone.{n}@example.org" for n in range(2000)], "hard_bounce")

    # The history: `args.history` marketing e-mails already sent to these partners, at most
    # two of them in the last 7 days per partner (so that the cap never stops the bench).
    history = create_scenario(env, template, "Bench history")
    env.flush_all()
    env.cr.execute(
        """
        WITH numbered AS (
            SELECT n, (%(partner_ids)s::int[])[1 + (n %% %(partners)s)] AS partner_id,
                   CASE WHEN n < %(partners)s * 2
                        THEN now() AT TIME ZONE 'UTC' - (1 + n %% 6) * interval '1 day'
                        ELSE now() AT TIME ZONE 'UTC' - (8 + n %% 350) * interval '1 day' END AS sent_at
              FROM generate_series(0, %(history)s - 1) n
        ), participants AS (
            INSERT INTO email_automation_participant
                   (scenario_id, company_id, res_model, res_id, partner_id, state, enrolled_at)
            SELECT %(scenario)s, %(company)s, 'res.partner', partner_id, partner_id, 'completed', sent_at
              FROM numbered
         RETURNING id, partner_id, enrolled_at
        )
        INSERT INTO email_automation_trace
               (participant_id, step_id, scenario_id, company_id, partner_id, category, state,
                scheduled_at, processed_at, sent_at, attempt_count, message_id)
        SELECT id, %(step)s, %(scenario)s, %(company)s, partner_id, 'marketing', 'sent',
               enrolled_at, enrolled_at, enrolled_at, 1, '<bench-history-' || id || '@example.com>'
          FROM participants
        """,
        {
            "partner_ids": partners.ids,
            "partners": len(partners),
            "history": args.history,
            "scenario": history.id,
            "company": env.company.id,
            "step": history.step_ids.id,
        },
    )
    env.cr.execute("ANALYZE email_automation_trace")
    env.cr.execute("ANALYZE email_automation_participant")
    env.cr.commit()
    return template, partners


def create_scenario(env, template, name):
    scenario = env["email.automation.scenario"].create(
        {
            "name": name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "category": "marketing",
            "frequency_cap_action": "skip",
            "step_ids": [
                (
                    0,
                    0,
                    {
                        "name": "Newsletter",
                        "trigger_type": "begin",
                        "action_type": "mail",
                        "mail_template_id": template.id,
                        "delay": 0,
                    },
                ),
            ],
        }
    )
    scenario.action_start()
    return scenario


def measure(env, template, partners, policies, label, sink):
    scenario = create_scenario(env, template, f"Bench {label}")
    scenario._enrol(partners.ids)
    env.cr.commit()
    before = sink.count
    queue = env["email.automation.queue"]
    if not policies:
        queue = queue.with_context(**{SKIP_POLICIES_KEY: True})
    started = time.perf_counter()
    queue._process_due_traces(auto_commit=True)
    elapsed = time.perf_counter() - started
    env.cr.commit()
    states = dict(
        env["email.automation.trace"]._read_group([("scenario_id", "=", scenario.id)], ["state"], ["__count"])
    )
    sent = sink.count - before
    if states != {"sent": len(partners)} or sent != len(partners):
        raise SystemExit(f"{label}: expected {len(partners)} sent, got {states} and {sent} at the sink")
    per_trace_ms = elapsed * 1000 / len(partners)
    print(f"  {label:<22} {len(partners)} traces in {elapsed:6.2f} s: {per_trace_ms:6.3f} ms per trace", flush=True)
    return per_trace_ms


def measure_decision(env, template, partners):
    """The policy decision alone, on one claimed batch: time and queries (rolled back)."""
    scenario = create_scenario(env, template, "Bench decision")
    scenario._enrol(partners.ids)
    env.flush_all()
    traces = env["email.automation.trace"]._claim_due(len(partners))
    env.invalidate_all()
    traces = traces.browse(traces.ids)
    queries = env.cr.sql_log_count
    started = time.perf_counter()
    env["email.automation.policy"]._apply(traces)
    env.flush_all()
    elapsed = time.perf_counter() - started
    queries = env.cr.sql_log_count - queries
    env.cr.rollback()
    print(
        f"  policy decision alone: {len(traces)} traces in {elapsed * 1000:.1f} ms "
        f"({elapsed * 1000 / len(traces):.3f} ms per trace), {queries} queries",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--history", type=int, default=50_000)
    parser.add_argument("--per-run", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config.parse_config(["-c", args.config, "-d", args.database, "--log-level=warn"])
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command log
    odoo.service.server.load_server_wide_modules()
    registry = odoo.modules.registry.Registry(args.database)

    sink = SinkHandler()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            print(f"Setting up: {args.per_run * args.rounds * 2} partners, {args.history} past sends...", flush=True)
            template, partners = setup(env, args, port)
            groups = [partners[i * args.per_run : (i + 1) * args.per_run] for i in range(args.rounds * 2)]
            # Warm-up (caches, templates), not counted.
            measure(env, template, groups[0][:100], True, "warm-up", sink)
            off, on = [], []
            for round_number in range(args.rounds):
                off.append(
                    measure(env, template, groups[2 * round_number], False, f"policies off #{round_number + 1}", sink)
                )
                on.append(
                    measure(
                        env, template, groups[2 * round_number + 1], True, f"policies on  #{round_number + 1}", sink
                    )
                )
            measure_decision(env, template, groups[0][:200])
    finally:
        controller.stop()
    cost_off, cost_on = statistics.median(off), statistics.median(on)
    ratio = cost_on / cost_off
    print(f"History: {args.history} past marketing sends; {args.per_run} traces per run, {args.rounds} runs each.")
    print(f"Policies off: {cost_off:.3f} ms per trace (median)")
    print(f"Policies on:  {cost_on:.3f} ms per trace (median)")
    print(f"Ratio: {ratio:.3f} ({(ratio - 1) * 100:+.1f} %; budget +15 %)")
    return 0 if ratio <= 1.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
