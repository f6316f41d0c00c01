"""Open and click tracking: what it costs the queue, and how fast its routes answer.

1. Queue cost. N e-mails (1,000) with three links go through the queue as the cron runs
   it (claim, checks, render, deliver over SMTP to a local aiosmtpd sink, chatter, commit per
   e-mail), by a scenario with tracking on and by the same scenario with tracking off, taking
   turns run after run. Prints milliseconds per e-mail of each, their medians and the ratio
   on / off of each run (target: at most 1.15).
2. Pixel and click routes. Odoo's HTTP server runs as one process (threaded, Odoo's
   default), the bench fetching one URL at a time over a keep-alive connection: the open
   pixel of the e-mails just sent, then their tracked links (a 302 each), next to Odoo's
   cheapest route, ``GET /web/health``, fetched in turn with them (one of each, again and
   again, each request timed), so that the machine's load weighs on all three alike. The e-mails are dated an
   hour back, so every fetch is a person's (the dearer path: a human click also counts on
   link_tracker). Prints requests per second and the ratios to /web/health of each run
   (target: at least 0.70). The routes only queue the fetches in the intake; its cron job
   records them (the server here runs no cron): the bench then records them in-process
   and prints how many per second, and checks the human opens and clicks are there.

    python bench/bench_tracking.py [--mails 1000] [--runs 3] [--requests 2000]

The script creates its own database (``cea_bench_tracking_<date>``, only
``crm_email_automation`` installed) and drops it at the end (``--keep-db`` keeps it). Exit
status 0 when both targets are met.
"""

import argparse
import statistics
import sys
import time
from datetime import datetime

from bench_providers import Client, OdooServer
from fixtures import EMAIL_FROM, SUBJECT, create_contacts, create_scenario, record_intake, setup_mail_server, vacuum
from odoo_env import DB_PREFIX, default_odoo_dir, progress, run_in_bench_database, superuser_env
from smtp_sink import SmtpSink

QUEUE_TARGET = 1.15  # tracking on / off, cost per e-mail
ROUTE_TARGET = 0.70  # pixel or click requests per second / /web/health's
BODY = """<div style="margin: 0px; padding: 0px; font-size: 14px;">
    <p>Hello <t t-out="object.name or ''">Contact</t>,</p>
    <p>We prepared <a href="https://shop.example.com/offers/spring?ref=mail">an offer</a> for
    you: see <a href="https://shop.example.com/catalogue">the catalogue</a> and
    <a href="https://shop.example.com/contact">write to us</a> with any question.</p>
    <p>Best regards,<br/>The Bench Company team</p>
</div>"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=1000, help="e-mails per queue run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement; medians are reported")
    parser.add_argument("--requests", type=int, default=2000, help="requests per route measurement")
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument(
        "--sections", default="queue,routes", help="what to measure: queue, routes, or both (the default)"
    )
    parser.add_argument(
        "--from-db",
        help="copy this database (crm_email_automation installed, up to date) instead of installing a new one",
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.db_name = f"{DB_PREFIX}tracking_{datetime.now():%Y%m%d_%H%M%S}"
    return args


def clean(env):
    """Forget the previous run's participants, traces, events and chatter logs."""
    env.flush_all()
    env.cr.execute("DELETE FROM email_automation_participant")  # cascades to traces and events
    env.cr.execute("DELETE FROM email_automation_enrolment")
    env.cr.execute("DELETE FROM mail_message WHERE model = 'res.partner' AND message_type = 'email_outgoing'")
    env.cr.commit()
    env.invalidate_all()
    vacuum(env, ("email_automation_participant", "email_automation_trace", "email_automation_event", "mail_message"))


def send(env, scenario, partners, sink):
    """Enrol `partners` and time the queue; return milliseconds per e-mail."""
    clean(env)
    sink.reset()
    scenario._enrol(partners.ids)
    env.cr.commit()
    env.invalidate_all()
    started = time.perf_counter()
    processed = env["email.automation.queue"]._process_due_traces(auto_commit=True)
    elapsed = time.perf_counter() - started
    env.cr.commit()
    received, _recipients, distinct = sink.count()
    if processed != len(partners) or received != len(partners) or distinct != len(partners):
        raise SystemExit(f"{scenario.name}: {processed} processed, {received} received for {len(partners)}")
    return 1000 * elapsed / len(partners)


def measure_queue(env, args, sink, template):
    scenarios = {
        tracked: create_scenario(
            env, "res.partner", template, f"Bench tracking {'on' if tracked else 'off'}", is_tracking_enabled=tracked
        )
        for tracked in (True, False)
    }
    _tag, partners = create_contacts(env, args.mails, "Tracking")
    env.cr.commit()
    # Warm-up (template compilation, link trackers, caches), not counted.
    for scenario in scenarios.values():
        send(env, scenario, partners[:50], sink)
    on, off = [], []
    for number in range(args.runs):
        # Taking turns, each run starting with the other: the machine's load weighs on both.
        order = (True, False) if number % 2 == 0 else (False, True)
        for tracked in order:
            cost = send(env, scenarios[tracked], partners, sink)
            (on if tracked else off).append(cost)
            progress(f"queue #{number + 1}, tracking {'on ' if tracked else 'off'}: {cost:6.2f} ms/e-mail")
    # The tracked scenario's e-mails, for the routes (the last run may have been untracked).
    send(env, scenarios[True], partners, sink)
    return on, off, scenarios[True]


def tracking_paths(env, scenario, count):
    """The pixel and first-link paths of `count` e-mails the tracked scenario sent, dated an
    hour back (as the e-mails a person opens); the paths are those written in the e-mails."""
    env.cr.execute(
        "UPDATE email_automation_trace SET sent_at = sent_at - interval '1 hour' WHERE scenario_id = %s",
        (scenario.id,),
    )
    env.cr.commit()
    traces = env["email.automation.trace"].search([("scenario_id", "=", scenario.id), ("state", "=", "sent")])
    if not traces:
        raise SystemExit("the tracked scenario sent nothing")
    sender = env["email.automation.mail.sender"]
    code = sender._link_tracker_codes(["https://shop.example.com/offers/spring?ref=mail"])[
        "https://shop.example.com/offers/spring?ref=mail"
    ]
    ids = traces.ids[:count]
    ids = (ids * (count // len(ids) + 1))[:count]
    return [sender._open_path(trace_id) for trace_id in ids], [sender._click_path(trace_id, code) for trace_id in ids]


def fetch_interleaved(server, pixels, clicks):
    """Requests per second of /web/health, the pixel and the tracked link, fetched in turn
    (one of each, again and again) and timed one by one: a change of the machine's load
    weighs on the three alike."""
    spent = {"floor": 0.0, "pixel": 0.0, "click": 0.0}
    agent = {"User-Agent": "Mozilla/5.0 (bench mail client)"}
    with Client(server) as client:
        for pixel, click in zip(pixels, clicks, strict=True):
            for key, path, status in (("floor", "/web/health", 200), ("pixel", pixel, 200), ("click", click, 302)):
                started = time.perf_counter()
                answer, body = client.request("GET", path, headers=agent)
                spent[key] += time.perf_counter() - started
                if answer != status:
                    raise SystemExit(f"{path} answered {answer}: {body[:200]}")
    return {key: len(pixels) / seconds for key, seconds in spent.items()}


def count_events(env, scenario):
    env.cr.execute(
        "SELECT event_type, count(*) FROM email_automation_event WHERE scenario_id = %s GROUP BY event_type",
        (scenario.id,),
    )
    return dict(env.cr.fetchall())


def measure_routes(env, args, setup, scenario):
    pixels, clicks = tracking_paths(env, scenario, args.requests)
    progress("starting Odoo's HTTP server (threaded)")
    server = OdooServer(setup, "threaded")
    floor, pixel, click = [], [], []
    try:
        # Warm-up (the server's caches and routing map), not counted.
        fetch_interleaved(server, pixels[:100], clicks[:100])
        for number in range(args.runs):
            rates = fetch_interleaved(server, pixels, clicks)
            floor.append(rates["floor"])
            pixel.append(rates["pixel"])
            click.append(rates["click"])
            progress(
                f"routes #{number + 1}: /web/health {floor[-1]:7.1f}/s, pixel {pixel[-1]:7.1f}/s "
                f"({pixel[-1] / floor[-1]:.2f}x), click {click[-1]:7.1f}/s ({click[-1] / floor[-1]:.2f}x)"
            )
    finally:
        server.stop()
    # The routes only queue the fetches: their cron job records them, timed here.
    signals, seconds = record_intake(env)
    progress(f"intake: {signals} fetches recorded in {seconds:.2f}s ({signals / seconds:.0f}/s)")
    events = count_events(env, scenario)
    if not events.get("open") or not events.get("click"):
        raise SystemExit(f"the fetches recorded no human open or click: {events}")
    return floor, pixel, click, events, signals / seconds


def prepare(env, sink, template_name):
    """Pause the demo scenarios, send through `sink`, and return the offer's template."""
    env["email.automation.scenario"].search([("state", "=", "running")]).write({"state": "paused"})
    setup_mail_server(env, sink.port)
    env["ir.config_parameter"].set_param("crm_email_automation.batch_size", 200)
    return env["mail.template"].create(
        {
            "name": template_name,
            "model_id": env["ir.model"]._get_id("res.partner"),
            "subject": SUBJECT,
            "email_from": EMAIL_FROM,
            "body_html": BODY,
        }
    )


def run(args, setup, sink):
    registry = setup.registry()
    with superuser_env(registry) as env:
        template = prepare(env, sink, "Bench tracked offer")
        env.cr.commit()
        results = {"on": [], "off": [], "floor": [], "pixel": [], "click": [], "events": {}, "recorded_rate": 0.0}
        if "queue" in args.sections:
            results["on"], results["off"], scenario = measure_queue(env, args, sink, template)
        else:
            scenario = create_scenario(env, "res.partner", template, "Bench tracking on", is_tracking_enabled=True)
            _tag, partners = create_contacts(env, args.mails, "Tracking")
            send(env, scenario, partners, sink)
        if "routes" in args.sections:
            (
                results["floor"],
                results["pixel"],
                results["click"],
                results["events"],
                results["recorded_rate"],
            ) = measure_routes(env, args, setup, scenario)
    return results


def report(args, results):
    def runs(values, digits=2):
        return " / ".join(f"{value:.{digits}f}" for value in values)

    print(
        f"crm_email_automation {args.engine}; {args.mails} e-mails per queue run, {args.requests} requests per "
        f"route run, {args.runs} runs, medians; routes on one threaded Odoo server"
    )
    median = {key: statistics.median(results[key] or [0.0]) for key in ("off", "on", "floor", "pixel", "click")}
    ok = True
    if "queue" in args.sections:
        ratios = [on / off for on, off in zip(results["on"], results["off"], strict=True)]
        ratio = statistics.median(ratios)
        print(f"Queue, tracking off:          {median['off']:8.2f} ms/e-mail (runs {runs(results['off'])})")
        print(f"Queue, tracking on:           {median['on']:8.2f} ms/e-mail (runs {runs(results['on'])})")
        print(f"Ratio on / off (per run):     {ratio:8.2f}x   (runs {runs(ratios)}; target <= {QUEUE_TARGET})")
        ok = ratio <= QUEUE_TARGET
    if "routes" in args.sections:
        pixel_ratios = [p / f for p, f in zip(results["pixel"], results["floor"], strict=True)]
        click_ratios = [c / f for c, f in zip(results["click"], results["floor"], strict=True)]
        pixel_ratio, click_ratio = statistics.median(pixel_ratios), statistics.median(click_ratios)
        print(f"GET /web/health:              {median['floor']:8.1f} requests/s (runs {runs(results['floor'], 1)})")
        print(f"GET pixel (open.gif):         {median['pixel']:8.1f} requests/s (runs {runs(results['pixel'], 1)})")
        print(f"GET tracked link (302):       {median['click']:8.1f} requests/s (runs {runs(results['click'], 1)})")
        print(
            f"Pixel / health (per run):     {pixel_ratio:8.2f}x   (runs {runs(pixel_ratios)}; target >= {ROUTE_TARGET})"
        )
        print(
            f"Click / health (per run):     {click_ratio:8.2f}x   (runs {runs(click_ratios)}; target >= {ROUTE_TARGET})"
        )
        print(f"Intake recorded afterwards:   {results['recorded_rate']:8.1f} fetches/s (one process, in batches)")
        print(f"Events recorded: {results['events']}")
        ok = ok and pixel_ratio >= ROUTE_TARGET and click_ratio >= ROUTE_TARGET
    return ok


def main(argv=None):
    return run_in_bench_database(parse_args(argv), [SmtpSink()], run, report)


if __name__ == "__main__":
    sys.exit(main())
