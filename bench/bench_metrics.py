"""What a Prometheus scrape of /email_automation/metrics costs as the traces grow.

The figures come from aggregate queries only (no loop over traces), so a scrape should cost
about the same with 1,000 or 100,000 traces. For each size, the traces are added (sent
through two providers with bounce and spam events, failed, deferred, due), then the
metrics are built as the route builds them (a fresh prometheus_client registry, the
collector, ``generate_latest``) several times, each on a fresh cache. Prints milliseconds
per scrape (median of the runs), the SQL queries of one scrape, the size of the answer,
and the ratio of each size's median to the smallest size's, measured in the same run.

    python bench/bench_metrics.py [--sizes 1000,10000,100000] [--runs 7]

The script creates its own database (``cea_bench_metrics_<date>``, only
``crm_email_automation`` installed, or a copy of ``--from-db``) and drops it at the end
(``--keep-db`` keeps it).
"""

import argparse
import importlib
import statistics
import sys
import time
from datetime import datetime

from fixtures import vacuum
from odoo_env import DB_PREFIX, default_odoo_dir, progress, run_in_bench_database, superuser_env

DUMMY_RES_ID_BASE = 50_000_000
# Of every 1,000 traces: how many are in each state (the rest sent).
MIX = {"failed": 20, "deferred": 50, "due": 30}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="total traces at each measurement")
    parser.add_argument("--runs", type=int, default=7, help="scrapes per size; the median is reported")
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--from-db", help="copy this database (crm_email_automation installed) instead")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    args.db_name = f"{DB_PREFIX}metrics_{datetime.now():%Y%m%d_%H%M%S}"
    return args


def setup_data(env):
    """Two providers and one marketing scenario with a mail step."""
    Provider = env["email.automation.provider"]
    providers = Provider.create([{"name": "Bench Brevo", "kind": "brevo"}, {"name": "Bench SMTP", "kind": "smtp"}])
    template = env["mail.template"].create(
        {"name": "Bench metrics", "model_id": env["ir.model"]._get_id("res.partner"), "subject": "Hi"}
    )
    scenario = env["email.automation.scenario"].create(
        {
            "name": "Bench metrics",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "trigger": "manual",
            "category": "marketing",
            "state": "running",
            "step_ids": [(0, 0, {"name": "Mail", "action_type": "mail", "mail_template_id": template.id})],
        }
    )
    env.cr.commit()
    return scenario, providers


def add_traces(env, scenario, providers, first, count):
    """Traces `first` .. `first + count - 1` of `scenario`: sent (alternating providers, 2% with
    a hard bounce and 0.2% with a spam complaint), failed, deferred and due, by INSERT ... SELECT."""
    cr = env.cr
    params = {
        "scenario": scenario.id,
        "company": scenario.company_id.id,
        "step": scenario.step_ids[:1].id,
        "base": DUMMY_RES_ID_BASE + first,
        "count": count,
        "uid": env.uid,
        "p1": providers[0].id,
        "p2": providers[1].id,
        "failed": MIX["failed"],
        "deferred": MIX["failed"] + MIX["deferred"],
        "due": MIX["failed"] + MIX["deferred"] + MIX["due"],
    }
    cr.execute(
        """
        INSERT INTO email_automation_participant
               (scenario_id, company_id, res_model, res_id, state, enrolled_at, create_uid, create_date,
                write_uid, write_date)
        SELECT %(scenario)s, %(company)s, 'res.partner', %(base)s + g, 'completed', n.t, %(uid)s, n.t, %(uid)s, n.t
          FROM generate_series(0, %(count)s - 1) g, (SELECT now() AT TIME ZONE 'UTC' AS t) n
        """,
        params,
    )
    cr.execute(
        """
        INSERT INTO email_automation_trace
               (participant_id, step_id, scenario_id, company_id, state, reason, scheduled_at, sent_at,
                processed_at, provider_id, attempt_count, create_uid, create_date, write_uid, write_date)
        SELECT p.id, %(step)s, p.scenario_id, p.company_id,
               CASE WHEN k < %(failed)s THEN 'failed' WHEN k < %(due)s THEN 'scheduled' ELSE 'sent' END,
               CASE WHEN k < %(failed)s THEN 'render_error' WHEN k < %(deferred)s THEN 'quiet_hours' END,
               p.enrolled_at - interval '1 minute' * (k %% 7),
               CASE WHEN k >= %(due)s THEN p.enrolled_at - interval '1 second' * (p.res_id %% 86400) END,
               CASE WHEN k < %(failed)s OR k >= %(due)s THEN p.enrolled_at END,
               CASE WHEN k >= %(due)s THEN (CASE WHEN p.res_id %% 2 = 0 THEN %(p1)s ELSE %(p2)s END) END,
               1, %(uid)s, p.create_date, %(uid)s, p.create_date
          FROM (SELECT *, (res_id %% 1000) AS k FROM email_automation_participant
                 WHERE scenario_id = %(scenario)s AND res_id >= %(base)s AND res_id < %(base)s + %(count)s) p
        """,
        params,
    )
    # Bounces (2%) and complaints (0.2%) on sent traces, as the webhooks store them.
    cr.execute(
        """
        INSERT INTO email_automation_event
               (trace_id, scenario_id, company_id, provider_id, event_type, occurred_at, dedupe_key,
                create_uid, create_date, write_uid, write_date)
        SELECT t.id, t.scenario_id, t.company_id, t.provider_id,
               CASE WHEN t.id %% 500 = 0 THEN 'spam' ELSE 'hard_bounce' END,
               t.sent_at, 'bench-' || t.id, %(uid)s, t.sent_at, %(uid)s, t.sent_at
          FROM email_automation_trace t
          JOIN email_automation_participant p ON p.id = t.participant_id
         WHERE t.state = 'sent' AND (t.id %% 50 = 0 OR t.id %% 500 = 0)
           AND p.res_id >= %(base)s AND p.res_id < %(base)s + %(count)s
        """,
        params,
    )
    cr.commit()
    vacuum(env, ("email_automation_participant", "email_automation_trace", "email_automation_event"))


def scrape(env, collector_class, registry_class, generate_latest):
    """One scrape as the route makes it: (seconds, SQL queries, bytes)."""
    env.invalidate_all()
    queries = env.cr.sql_log_count
    started = time.perf_counter()
    registry = registry_class(auto_describe=False)
    registry.register(collector_class(env))
    body = generate_latest(registry)
    return time.perf_counter() - started, env.cr.sql_log_count - queries, len(body)


def run(args, setup):
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

    registry = setup.registry()
    metrics = importlib.import_module("odoo.addons.crm_email_automation.controllers.metrics")
    collector_class = metrics.EmailAutomationMetricsCollector
    results = []
    with superuser_env(registry) as env:
        scenario, providers = setup_data(env)
        total = 0
        for size in args.sizes:
            progress(f"adding {size - total} traces")
            add_traces(env, scenario, providers, total, size - total)
            total = size
            scrape(env, collector_class, CollectorRegistry, generate_latest)  # warm the caches
            runs = [scrape(env, collector_class, CollectorRegistry, generate_latest) for _ in range(args.runs)]
            results.append(
                {
                    "size": size,
                    "ms": [seconds * 1000 for seconds, _queries, _size in runs],
                    "queries": runs[-1][1],
                    "bytes": runs[-1][2],
                }
            )
            progress(f"{size} traces: median {statistics.median(results[-1]['ms']):.1f} ms")
    return results


def report(args, results):
    base = statistics.median(results[0]["ms"])
    print(f"Metrics scrape cost ({args.runs} scrapes per size, each on a fresh ORM cache; median)")
    print(f"{'traces':>10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'queries':>8} {'bytes':>7} {'ratio':>6}")
    for result in results:
        median = statistics.median(result["ms"])
        print(
            f"{result['size']:>10,} {median:>10.1f} {min(result['ms']):>8.1f} {max(result['ms']):>8.1f} "
            f"{result['queries']:>8} {result['bytes']:>7} {median / base:>6.2f}"
        )
    return True  # no target: the figures show how the scrape grows with the traces


def main(argv=None):
    return run_in_bench_database(parse_args(argv), [], run, report)


if __name__ == "__main__":
    sys.exit(main())
