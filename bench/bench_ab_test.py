"""A/B tests: what two subject variants cost the queue per e-mail.

N e-mails (1,000) go through the queue as the cron runs it (claim, checks, variant
assignment, render, deliver over SMTP to a local aiosmtpd sink, chatter, commit per e-mail),
by a scenario whose step tests two subjects (50/50, automatic winner on, not yet due, so
its rule is checked on every batch) and by the same scenario without variants, taking turns
run after run. Prints milliseconds per e-mail of each, their medians and the ratio
variants / none of each run (target: at most 1.10).

    python bench/bench_ab_test.py [--mails 1000] [--runs 3] [--from-db DB]

The script creates its own database (``cea_bench_ab_<date>``, only ``crm_email_automation``
installed) and drops it at the end (``--keep-db`` keeps it). Exit status 0 when the target
is met.
"""

import argparse
import statistics
import sys
from collections import Counter
from datetime import datetime

from bench_tracking import prepare, send
from fixtures import create_contacts, create_scenario
from odoo_env import DB_PREFIX, default_odoo_dir, progress, run_in_bench_database, superuser_env
from smtp_sink import SmtpSink

TARGET = 1.10  # with variants / without, cost per e-mail


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=1000, help="e-mails per queue run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument(
        "--from-db",
        help="copy this database (crm_email_automation installed, up to date) instead of installing a new one",
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.db_name = f"{DB_PREFIX}ab_{datetime.now():%Y%m%d_%H%M%S}"
    return args


def run(args, setup, sink):
    registry = setup.registry()
    with superuser_env(registry) as env:
        template = prepare(env, sink, "Bench A/B offer")
        plain = create_scenario(env, "res.partner", template, "Bench without variants")
        tested = create_scenario(env, "res.partner", template, "Bench with variants")
        tested.step_ids.write(
            {
                "ab_auto_winner": True,
                "ab_winner_after_hours": 1000,
                "variant_ids": [
                    (0, 0, {"name": "A", "share": 50, "subject": "Offer for {{ object.name }}"}),
                    (0, 0, {"name": "B", "share": 50, "subject": "{{ object.name }}, an offer inside"}),
                ],
            }
        )
        _tag, partners = create_contacts(env, args.mails, "AB")
        env.cr.commit()
        scenarios = {True: tested, False: plain}
        # Warm-up (template compilation, caches), not counted.
        for scenario in scenarios.values():
            send(env, scenario, partners[:50], sink)
        costs = {True: [], False: []}
        for number in range(args.runs):
            # Taking turns, each run starting with the other: the machine's load weighs on both.
            for variants in (True, False) if number % 2 == 0 else (False, True):
                costs[variants].append(send(env, scenarios[variants], partners, sink))
                progress(f"queue #{number + 1}, variants {'on ' if variants else 'off'}: {costs[variants][-1]:6.2f} ms")
        # The last run of the tested scenario: its e-mails by variant (they must all have one).
        send(env, tested, partners, sink)
        split = Counter(tested.participant_ids.trace_ids.mapped(lambda t: t.variant_id.name or "none"))
        return costs[True], costs[False], split


def report(args, on, off, split):
    def runs(values):
        return " / ".join(f"{value:.2f}" for value in values)

    ratios = [a / b for a, b in zip(on, off, strict=True)]
    ratio = statistics.median(ratios)
    print(f"crm_email_automation {args.engine}; {args.mails} e-mails per queue run, {args.runs} runs, medians")
    print(f"Queue, no variants:           {statistics.median(off):8.2f} ms/e-mail (runs {runs(off)})")
    print(f"Queue, two subject variants:  {statistics.median(on):8.2f} ms/e-mail (runs {runs(on)})")
    print(f"Ratio variants / none:        {ratio:8.2f}x   (runs {runs(ratios)}; target <= {TARGET})")
    print(f"E-mails by variant (last run): {dict(sorted(split.items()))}")
    return ratio <= TARGET and "none" not in split


def main(argv=None):
    args = parse_args(argv)
    return run_in_bench_database(args, [SmtpSink()], run, lambda args, results: report(args, *results))


if __name__ == "__main__":
    sys.exit(main())
