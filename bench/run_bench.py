#!/usr/bin/env python3
"""Benchmark of crm_email_automation's sending engine. Run it with the Odoo virtualenv's
python; see bench/README.md. It creates its own database (cea_bench_*), measures, prints
the figures against the targets, and drops the database.

Sections (all delivering over SMTP to a local aiosmtpd server):
  1. mail     cost per e-mail of our queue vs Odoo's mass mailing, same template, N contacts
  2. trigger  ms added to confirming one sale order by 10 running scenarios / by one
              base_automation rule e-mailing a template
  3. scale    cost per trace for 1,000 due traces with 1,000 vs 100,000 traces queued
  4. memory   peak RSS of a worker process sending N=1,000 vs N=10,000
"""

import argparse
import os
import sys
import time

from fixtures import BODY, SUBJECT, create_contacts, create_scenario, create_template, message_floor, setup_mail_server
from measure_mail import MailBench, measure_scaling, measure_throughput
from measure_memory import measure_memory
from measure_trigger import TriggerBench, measure_triggers
from odoo_env import DB_PREFIX, MODULES, default_odoo_dir, run_in_bench_database, superuser_env
from report import Table, fmt_runs, load_summary, median, progress, verdict
from smtp_sink import SmtpSink

SECTIONS = ("mail", "trigger", "scale", "memory")

# Targets of the issue.
MAX_RATIO_VS_MASS_MAILING = 0.5
MAX_TRIGGER_MS = 2.0
MAX_SCALING_RATIO = 1.2
MAX_MEMORY_GROWTH_MB = 100


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--odoo-dir",
        default=default_odoo_dir(),
        help="Odoo 18.0 source tree (default: $CEA_CACHE_DIR/odoo-18.0 or ~/.cache/crm_email_automation/odoo-18.0)",
    )
    parser.add_argument("--addons-path", action="append", default=[], help="extra addons directory")
    parser.add_argument(
        "--db-name", help=f"bench database to create (must start with {DB_PREFIX}; default: a new name)"
    )
    parser.add_argument("--db-host")
    parser.add_argument("--db-port")
    parser.add_argument("--db-user")
    parser.add_argument("--db-password")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database at the end")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small sizes, one run (explicit size flags still win)"
    )
    parser.add_argument("--runs", type=int, help="runs per figure, the median is reported (default 3)")
    parser.add_argument("--mass-mailing-runs", type=int, help="runs of the mass mailing (default: --runs)")
    parser.add_argument("--mails", type=int, help="section 1: e-mails per run (default 10000)")
    parser.add_argument("--orders", type=int, help="section 2: confirmations timed per variant (default 500)")
    parser.add_argument("--scenarios", type=int, help="section 2: running scenarios on sale.order (default 10)")
    parser.add_argument("--scale-due", type=int, help="section 3: due traces processed (default 1000)")
    parser.add_argument("--scale-total", type=int, help="section 3: traces queued in the large case (default 100000)")
    parser.add_argument("--memory-mails", help="section 4: the two N, comma-separated (default 1000,10000)")
    parser.add_argument("--memory-runs", type=int, help="section 4 runs (default: --runs)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile our processing of N traces (cProfile, SQL per trace) and "
        "census the SQL of a mass mailing of N",
    )
    args = parser.parse_args(argv)

    quick = args.quick
    defaults = {
        "runs": 1 if quick else 3,
        "mails": 200 if quick else 10_000,
        "orders": 50 if quick else 500,
        "scenarios": 10,
        "scale_due": 100 if quick else 1000,
        "scale_total": 10_000 if quick else 100_000,
        "memory_mails": "100,1000" if quick else "1000,10000",
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.mass_mailing_runs = args.runs if args.mass_mailing_runs is None else args.mass_mailing_runs
    args.memory_runs = args.runs if args.memory_runs is None else args.memory_runs
    args.memory_mails = [int(n) for n in str(args.memory_mails).split(",") if n.strip()]
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.db_name = args.db_name or f"{DB_PREFIX}{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    return args


def db_options(args):
    options = []
    for name in ("host", "port", "user", "password"):
        value = getattr(args, f"db_{name}")
        if value:
            options.append(f"--db_{name}={value}")
    return options


# ----------------------------------------------------------------------


def run(args, setup, sink):
    registry = setup.registry()
    results = {}
    with superuser_env(registry) as env:
        progress("creating the bench data")
        server = setup_mail_server(env, sink.port)
        audience_size = args.mails if "mail" in args.sections else 0
        pool_size = max(
            [
                audience_size,
                args.scale_due if "scale" in args.sections else 0,
                max(args.memory_mails) if "memory" in args.sections else 0,
                50,
            ]
        )
        audience_tag, audience = create_contacts(env, audience_size, "Bench audience")
        _extra_tag, extra = create_contacts(env, max(pool_size - audience_size, 0), "Bench extra")
        warm_tag, warm = create_contacts(env, 20, "Bench warmup")
        pool = audience | extra
        template = create_template(env, "res.partner", "Bench offer", SUBJECT, BODY)
        scenario = create_scenario(env, "res.partner", template, "Bench offer scenario", server)
        env.cr.commit()
        bench = MailBench(env, sink, server, scenario, message_floor(env))
        bench.clean()

        if "mail" in args.sections:
            progress(f"section 1: {args.mails} e-mails, ours x{args.runs}, mass mailing x{args.mass_mailing_runs}")
            results["mail"] = measure_throughput(
                bench, audience_tag, audience, warm_tag, warm, args.runs, args.mass_mailing_runs
            )
        if "scale" in args.sections:
            progress(f"section 3: {args.scale_due} due traces with {args.scale_due} vs {args.scale_total} queued")
            results["scale"] = measure_scaling(bench, pool[: args.scale_due], args.scale_total, args.runs)
        if "memory" in args.sections:
            progress(f"section 4: worker memory for N in {args.memory_mails}")
            results["memory"] = measure_memory(bench, setup, pool, args.memory_mails, args.memory_runs)
        if "trigger" in args.sections:
            progress(f"section 2: {args.orders} confirmations x 3 variants x {args.runs} run(s)")
            trigger_bench = TriggerBench(env, pool[:200], args.scenarios, server)
            results["trigger"] = measure_triggers(trigger_bench, args.orders, args.runs)
        if args.profile:
            from profile_engine import profile_mass_mailing, profile_ours, profile_trigger  # noqa: PLC0415

            progress(f"profiling our processing of {args.profile} traces")
            results["profile"] = [profile_ours(bench, pool[: args.profile])]
            if "mail" in args.sections and args.profile <= len(audience):
                # The mailing's segment is the audience tag: give the first N their own tag.
                tag = env["res.partner.category"].create({"name": "Bench profile"})
                audience[: args.profile].write({"category_id": [(4, tag.id)]})
                env.cr.commit()
                results["profile"].append(profile_mass_mailing(bench, tag, args.profile))
            if "trigger" in args.sections:
                progress("profiling the confirmations with and without the scenarios")
                results["profile"].append(profile_trigger(env, trigger_bench, min(args.orders, 200)))
    return results


def report(args, results, setup_seconds, elapsed):
    table = Table(
        f"crm_email_automation benchmark, engine {args.engine} (runs={args.runs}, "
        f"mass mailing runs={args.mass_mailing_runs}; medians; database setup {setup_seconds:.0f}s)"
    )
    ok = True
    if "mail" in results:
        ours, mass = results["mail"]["ours"], results["mail"]["mass_mailing"]
        ours_ms = median([r["ms_per_mail"] for r in ours])
        mass_ms = median([r["ms_per_mail"] for r in mass])
        enrol_ms = median([1000 * r["enrol_s"] / r["n"] for r in ours])
        ratio = ours_ms / mass_ms if mass_ms else float("nan")
        table.section(f"1. Sending {args.mails} e-mails over SMTP (same template, same contacts)")
        table.add("ours: ms per e-mail (claim..SMTP, _process_due_traces)", f"{ours_ms:.2f} ms")
        table.note(
            f"runs: {fmt_runs([r['ms_per_mail'] for r in ours], ' ms')}; "
            f"{median([r['queries_per_mail'] for r in ours]):.1f} SQL queries per e-mail; "
            f"{median([r['cpu_ms_per_mail'] for r in ours]):.2f} ms Python CPU per e-mail"
        )
        table.add("ours: enrolment, ms per record (not in the ratio)", f"{enrol_ms:.2f} ms")
        table.add("mass_mailing: ms per e-mail (action_send_mail + queue)", f"{mass_ms:.2f} ms")
        table.note(
            f"runs: {fmt_runs([r['ms_per_mail'] for r in mass], ' ms')}; "
            f"{median([r['queries_per_mail'] for r in mass]):.1f} SQL queries per e-mail; "
            f"{median([r['cpu_ms_per_mail'] for r in mass]):.2f} ms Python CPU per e-mail; "
            f"composing {median([1000 * r['compose_s'] / r['n'] for r in mass]):.2f} ms/e-mail of it"
        )
        verdict_1 = verdict(ratio, MAX_RATIO_VS_MASS_MAILING)
        table.add("ratio ours / mass_mailing", f"{ratio:.2f}x", f"<= {MAX_RATIO_VS_MASS_MAILING:.2f}x", verdict_1)
        with_enrol = (ours_ms + enrol_ms) / mass_ms if mass_ms else float("nan")
        table.add("ratio incl. our enrolment (information)", f"{with_enrol:.2f}x")
        cpu_ratio = median([r["cpu_ms_per_mail"] for r in ours]) / median([r["cpu_ms_per_mail"] for r in mass])
        table.add("ratio of Python CPU per e-mail (information)", f"{cpu_ratio:.2f}x")
        delivered = all(r["ok"] for r in ours + mass)
        table.add(
            "all e-mails received by the SMTP server", "yes" if delivered else "NO", "", "" if delivered else "FAIL"
        )
        ok &= verdict_1 == "PASS" and delivered
    if "trigger" in results:
        runs = results["trigger"]
        base = median([r["none"]["median_ms"] for r in runs])
        ours = median([r["scenarios"]["median_ms"] for r in runs])
        rule = median([r["base_automation"]["median_ms"] for r in runs])
        # Block by block (the variants take turns), so that the machine's load weighs alike.
        added_ours = median([r["scenarios"]["added_ms"] for r in runs])
        added_rule = median([r["base_automation"]["added_ms"] for r in runs])
        table.section(f"2. Confirming one sale order ({args.orders} per variant; action_confirm + flush, no commit)")
        table.add("(a) no automation: ms per order", f"{base:.2f} ms")
        table.note(f"runs: {fmt_runs([r['none']['median_ms'] for r in runs], ' ms')}")
        table.add(f"(b) {args.scenarios} running scenarios: ms per order", f"{ours:.2f} ms")
        table.note(
            f"runs: {fmt_runs([r['scenarios']['median_ms'] for r in runs], ' ms')}; "
            f"enrolments queued per run: {[r['scenarios']['queued'][0] for r in runs]}"
        )
        table.add("(c) one base_automation mail rule: ms per order", f"{rule:.2f} ms")
        table.note(
            f"runs: {fmt_runs([r['base_automation']['median_ms'] for r in runs], ' ms')}; "
            f"mails queued per run: {[r['base_automation']['queued'][1] for r in runs]}"
        )
        verdict_2 = verdict(added_ours, MAX_TRIGGER_MS)
        table.add(
            "(b) - (a): added by our scenarios", f"{added_ours:+.2f} ms", f"<= {MAX_TRIGGER_MS:.1f} ms", verdict_2
        )
        table.add("(c) - (a): added by base_automation", f"{added_rule:+.2f} ms")
        cpu_ours = median([r["scenarios"]["median_cpu_ms"] - r["none"]["median_cpu_ms"] for r in runs])
        cpu_rule = median([r["base_automation"]["median_cpu_ms"] - r["none"]["median_cpu_ms"] for r in runs])
        table.note(
            f"Python CPU per order: (a) {median([r['none']['median_cpu_ms'] for r in runs]):.2f} ms; "
            f"(b) - (a) {cpu_ours:+.2f} ms; (c) - (a) {cpu_rule:+.2f} ms"
        )
        ok &= verdict_2 == "PASS"
    if "scale" in results:
        small, large = results["scale"]["small"], results["scale"]["large"]
        small_ms = median([r["ms_per_mail"] for r in small])
        large_ms = median([r["ms_per_mail"] for r in large])
        ratio = large_ms / small_ms if small_ms else float("nan")
        due = args.scale_due
        table.section(f"3. Processing {due} due traces: queue of {due} vs {args.scale_total}")
        table.add(f"{due} queued: ms per trace", f"{small_ms:.2f} ms")
        table.note(f"runs: {fmt_runs([r['ms_per_mail'] for r in small], ' ms')}")
        table.add(
            f"{args.scale_total} queued ({results['scale']['future']} not due): ms per trace", f"{large_ms:.2f} ms"
        )
        table.note(f"runs: {fmt_runs([r['ms_per_mail'] for r in large], ' ms')}")
        verdict_3 = verdict(ratio, MAX_SCALING_RATIO)
        table.add("ratio large / small", f"{ratio:.2f}x", f"<= {MAX_SCALING_RATIO:.1f}x", verdict_3)
        delivered = all(r["ok"] for r in small + large)
        table.add(
            "all e-mails received, not-due traces untouched",
            "yes" if delivered else "NO",
            "",
            "" if delivered else "FAIL",
        )
        ok &= verdict_3 == "PASS" and delivered
    if "memory" in results:
        mem = results["memory"]
        sizes = sorted(mem)
        table.section(f"4. Worker process peak memory (VmHWM), N = {', '.join(map(str, sizes))}")
        peaks = {}
        for n in sizes:
            peaks[n] = median([r["after"]["hwm"] / 1024 for r in mem[n]])
            before = median([r["before"]["rss"] / 1024 for r in mem[n]])
            ms = median([1000 * r["seconds"] / n for r in mem[n]])
            table.add(f"N={n}: peak RSS", f"{peaks[n]:.0f} MB")
            table.note(
                f"runs: {fmt_runs([r['after']['hwm'] / 1024 for r in mem[n]], ' MB', 0)}; "
                f"RSS after loading the registry {before:.0f} MB; {ms:.2f} ms per trace"
            )
        if len(sizes) >= 2:
            growth = peaks[sizes[-1]] - peaks[sizes[0]]
            verdict_4 = verdict(growth, MAX_MEMORY_GROWTH_MB)
            table.add(
                f"growth N={sizes[0]} -> N={sizes[-1]}", f"{growth:+.0f} MB", f"< {MAX_MEMORY_GROWTH_MB} MB", verdict_4
            )
            ok &= verdict_4 == "PASS"
        delivered = all(r["ok"] for rs in mem.values() for r in rs)
        table.add("all e-mails received", "yes" if delivered else "NO", "", "" if delivered else "FAIL")
        ok &= delivered
    print()
    print(table.render())
    print(f"\nAll targets met: {'yes' if ok else 'NO'}")
    print(f"Machine: {load_summary()}; elapsed {elapsed / 60:.1f} min.")
    for text in results.get("profile", []):
        print()
        print(text)
    sys.stdout.flush()
    return ok


def main(argv=None):
    args = parse_args(argv)

    def announce(setup, odoo, addons_dir):
        progress(f"Odoo {odoo.release.version} from {setup.odoo_dir}; python {sys.version.split()[0]}")
        progress(f"crm_email_automation {args.engine}, copied to {addons_dir} for this run")
        progress(
            f"settings: sections={','.join(args.sections)} runs={args.runs} "
            f"mass_mailing_runs={args.mass_mailing_runs} mails={args.mails} orders={args.orders} "
            f"scenarios={args.scenarios} scale={args.scale_due}/{args.scale_total} "
            f"memory={args.memory_mails}x{args.memory_runs}"
        )

    return run_in_bench_database(
        args,
        [SmtpSink()],
        run,
        lambda args, results: report(args, results, args.setup_seconds, time.monotonic() - args.started),
        modules=MODULES,
        db_options=db_options(args),
        extra_addons=args.addons_path,
        announce=announce,
    )


if __name__ == "__main__":
    sys.exit(main())
