"""Delivery providers: sending through the Brevo API against the SMTP path, and webhook
ingestion.

1. Sending. N traces (10,000) of a transactional scenario go through the queue as the cron
   runs it (claim, checks, render, deliver, chatter, commit per e-mail), alternately through
   the SMTP provider (to a local aiosmtpd sink) and the Brevo API provider (to a local server
   that speaks Brevo's send API, bench/brevo_sink.py), each in a process of its own. Prints
   traces per second of each, their medians and the ratio Brevo / SMTP of the same run.
2. Webhook ingestion. Odoo's HTTP server runs as one process: threaded (Odoo's default,
   the bench posting one request at a time) or, with ``--server prefork``, one prefork
   worker (``--workers=1``). The bench posts 10,000 Brevo events about the e-mails just
   sent, one event per request as Brevo does by default, then in Brevo's batched mode (100
   per request), then as Mandrill batches (signed, 1,000 events per request). Prints events per second, next to the
   requests per second of Odoo's cheapest route on the same server (its floor); the
   target is at least 200 events per second. The webhooks only validate the request and
   queue its events in the intake; the intake's cron job records them (the server here
   runs no cron), so the bench then records them in-process, prints how many events per
   second that takes and checks every posted event was stored.

    python bench/bench_providers.py [--traces 10000] [--runs 3] [--events 10000] [--server prefork]

The script creates its own database (``cea_bench_providers_<date>_<pid>``) and drops it at
the end (``--keep-db`` keeps it). Exit status 0 when the webhook target is met.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import requests
from brevo_sink import API_KEY, BrevoSink
from fixtures import (
    BODY,
    SUBJECT,
    create_contacts,
    create_scenario,
    create_template,
    record_intake,
    setup_mail_server,
)
from odoo_env import BENCH_DIR, DB_PREFIX, default_odoo_dir, progress, run_in_bench_database, superuser_env
from sink_process import free_port
from smtp_sink import SmtpSink

WEBHOOK_TOKEN = "bench-webhook-token"  # noqa: S105 - a bench database's throw-away secret
MANDRILL_KEY = "bench-mandrill-key"
WEBHOOK_TARGET = 200.0  # events per second, one worker
BREVO_BATCH = 100  # events per request in Brevo's batched webhook mode
FLOOR_RATIO_TARGET = 0.80  # one-event webhook against the minimal POST route, same worker
# bench/addons/cea_bench_floor: the minimal POST route, installed in the bench database only.
FLOOR_ADDON = "cea_bench_floor"
FLOOR_PATH = "/cea_bench/floor"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=10_000, help="traces per sending run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each path; medians are reported")
    parser.add_argument("--events", type=int, default=10_000, help="webhook events per ingestion run")
    parser.add_argument(
        "--server",
        choices=["threaded", "prefork"],
        default="threaded",
        help="Odoo's HTTP server for the webhooks: one threaded process (Odoo's default), "
        "or one prefork worker (--workers=1)",
    )
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.db_name = f"{DB_PREFIX}providers_{datetime.now():%Y%m%d_%H%M%S}"
    return args


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def prepare(env, args, smtp_port, brevo_url):
    env["email.automation.scenario"].search([("state", "=", "running")]).write({"state": "paused"})
    server = setup_mail_server(env, smtp_port)
    env["ir.config_parameter"].set_param("crm_email_automation.batch_size", 200)
    # The local Brevo stand-in is not an official Brevo host: allow it.
    env["ir.config_parameter"].set_param("crm_email_automation.provider_allowed_hosts", "127.0.0.1")
    Provider = env["email.automation.provider"]
    Provider.search([]).write({"is_default": False})
    providers = {
        "smtp": Provider.create({"name": "Bench SMTP", "kind": "smtp", "mail_server_id": server.id}),
        "brevo": Provider.create(
            {
                "name": "Bench Brevo",
                "kind": "brevo",
                "api_base_url": brevo_url,
                "api_key": API_KEY,
                "webhook_token": WEBHOOK_TOKEN,
            }
        ),
        "mandrill": Provider.create(
            {"name": "Bench Mandrill", "kind": "mandrill", "api_key": "unused", "webhook_key": MANDRILL_KEY}
        ),
    }
    template = create_template(env, "res.partner", "Bench offer", SUBJECT, BODY)
    _tag, partners = create_contacts(env, args.traces * args.runs * 2, "Providers")
    env.cr.commit()
    return providers, template, partners


# ----------------------------------------------------------------------
# 1. Sending
# ----------------------------------------------------------------------


def measure_sending(env, template, provider, partners, label, delivered):
    """Send one e-mail to each of `partners` through `provider`; return traces per second."""
    scenario = create_scenario(env, "res.partner", template, f"Bench {label}", provider_id=provider.id)
    scenario._enrol(partners.ids)
    env.cr.commit()
    before = delivered()
    started = time.perf_counter()
    env["email.automation.queue"]._process_due_traces(auto_commit=True)
    elapsed = time.perf_counter() - started
    env.cr.commit()
    states = dict(
        env["email.automation.trace"]._read_group([("scenario_id", "=", scenario.id)], ["state"], ["__count"])
    )
    arrived = delivered() - before
    if states != {"sent": len(partners)} or arrived != len(partners):
        raise SystemExit(f"{label}: expected {len(partners)} sent, got {states} and {arrived} delivered")
    rate = len(partners) / elapsed
    progress(f"{label:<12} {len(partners)} traces in {elapsed:7.2f} s: {rate:7.1f} traces/s")
    return rate, scenario


# ----------------------------------------------------------------------
# 2. Webhook ingestion
# ----------------------------------------------------------------------


class OdooServer:
    """odoo-bin serving HTTP as one process, on the bench database: threaded (Odoo's
    default) or one prefork worker.

    Started with ``--database`` and no ``--db-filter``, as a one-database server is: with a
    filter, Odoo lists the databases on every request through a new connection to the
    ``postgres`` database (about 2.5 ms here).
    """

    def __init__(self, setup, mode, port=None, gevent_port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            str(setup.odoo_dir / "odoo-bin"),
            *self.options(setup, mode),
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            *([f"--gevent-port={gevent_port}"] if gevent_port else []),
        ]
        self.mode = mode
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - read back by crashes()
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            self._wait_until_serving()
        except BaseException:
            # Never leave a server behind, whatever stopped the wait (Ctrl+C included).
            self.stop()
            raise

    def options(self, setup, mode):
        """odoo-bin's options besides the HTTP address (no cron: nothing but HTTP runs)."""
        return [
            *setup.odoo_args(),
            *(["--workers=1"] if mode == "prefork" else []),
            "--limit-time-real=600",
            "--limit-time-cpu=600",
        ]

    def _wait_until_serving(self, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/web/health", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or loading
                pass
            time.sleep(0.5)
        raise RuntimeError("Odoo's HTTP server did not start")

    def crashes(self):
        """Tracebacks in the server's output so far. In prefork, Odoo respawns its gevent
        (websocket) process as soon as it dies: one that dies at start-up is respawned
        in a loop, each time a new Python importing Odoo, which eats a core of the
        machine the worker runs on."""
        self._log.seek(0)
        return self._log.read().count("Traceback (most recent call last)")

    def worker_pid(self):
        """The process that serves HTTP: the server itself (threaded), else its prefork
        HTTP worker (not the gevent process)."""
        if self.mode != "prefork":
            return self._proc.pid
        for child in Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children").read_text().split():
            if b" gevent " not in Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" "):
                return int(child)
        raise RuntimeError("no prefork HTTP worker found")

    def stop(self):
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One keep-alive HTTP connection to the server: a light client, since it shares the
    machine's cores with the server it measures (requests costs ~3 ms more per call)."""

    def __init__(self, server, timeout=300):
        self._connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """(status, body) of one request."""
        self._connection.request(method, path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        return response.status, response.read()

    def close(self):
        self._connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def brevo_events(traces, event, now):
    return [
        {
            "event": event,
            "email": trace["email_to"],
            "message-id": trace["provider_message_id"],
            "date": datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S"),
            "ts_event": now,
            "ts_epoch": now * 1000,
            "subject": "Your order",
            "tags": ["bench"],
            "X-Mailin-custom": f"trace={trace['id']}",
            **({"link": "https://example.com/offer"} if event == "click" else {}),
        }
        for trace in traces
    ]


def ingest_brevo(server, provider, events, batch=None):
    """Post the events alone, as Brevo does by default, or in arrays of `batch` (Brevo's
    batched webhooks); return events per second."""
    path = f"/email_automation/webhook/brevo/{provider.id}"
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    if batch:
        bodies = [json.dumps(events[start : start + batch]).encode() for start in range(0, len(events), batch)]
    else:
        bodies = [json.dumps(event).encode() for event in events]
    with Client(server) as client:
        started = time.perf_counter()
        for body in bodies:
            status, answer = client.request("POST", path, body, headers)
            if status != 200:
                raise SystemExit(f"Brevo webhook answered {status}: {answer[:200]}")
        return len(events) / (time.perf_counter() - started)


def side_by_side(server, provider, traces, event, now, block=250):
    """One-event Brevo webhook requests and as many requests to the minimal POST route
    (the same body), by turns in blocks of `block`, so that a change of the machine's load
    weighs on both. Returns {name: (requests per second, worker CPU ms per request)}."""
    path = f"/email_automation/webhook/brevo/{provider.id}"
    bodies = [json.dumps(event).encode() for event in brevo_events(traces, event, now)]
    routes = {
        "webhook": (path, {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}),
        "floor": (FLOOR_PATH, {"Content-Type": "application/json"}),
    }
    wall = dict.fromkeys(routes, 0.0)
    cpu = dict.fromkeys(routes, 0.0)
    with Client(server) as client:
        for start in range(0, len(bodies), block):
            for name, (route, headers) in routes.items():
                worker = server.worker_pid()  # a prefork worker may have been recycled
                cpu_before, started = cpu_seconds(worker), time.perf_counter()
                for body in bodies[start : start + block]:
                    status, answer = client.request("POST", route, body, headers)
                    if status != 200:
                        raise SystemExit(f"{route} answered {status}: {answer[:200]}")
                wall[name] += time.perf_counter() - started
                cpu[name] += cpu_seconds(worker) - cpu_before
    return {name: (len(bodies) / wall[name], 1000 * cpu[name] / len(bodies)) for name in routes}


def measure_floor(server, requests_count):
    """Requests per second of Odoo's cheapest route, /web/health, on the same server: the
    ceiling of any one-event-per-request webhook."""
    with Client(server) as client:
        started = time.perf_counter()
        for _number in range(requests_count):
            status, answer = client.request("GET", "/web/health")
            if status != 200:
                raise SystemExit(f"/web/health answered {status}: {answer[:200]}")
        return requests_count / (time.perf_counter() - started)


def mandrill_signature(url, fields):
    signed = url + "".join(key + fields[key] for key in sorted(fields))
    return base64.b64encode(hmac.new(MANDRILL_KEY.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def ingest_mandrill(server, provider, traces, now, batch=1000):
    """Post Mandrill 'open' events in signed batches of `batch`; return events per second."""
    url = f"{server.url}/email_automation/webhook/mandrill/{provider.id}"
    # Mandrill signs the URL configured at Mandrill: here, the bench server's.
    provider.webhook_url = url
    provider.env.cr.commit()
    bodies = []
    for start in range(0, len(traces), batch):
        events = [
            {
                "event": "open",
                "ts": now,
                "_id": trace["provider_message_id"],
                "msg": {
                    "_id": trace["provider_message_id"],
                    "email": trace["email_to"],
                    "state": "sent",
                    "ts": now,
                    "metadata": {"trace": str(trace["id"])},
                    "tags": ["bench"],
                },
            }
            for trace in traces[start : start + batch]
        ]
        fields = {"mandrill_events": json.dumps(events)}
        bodies.append((urlencode(fields), mandrill_signature(url, fields)))
    path = url.removeprefix(server.url)
    with Client(server) as client:
        started = time.perf_counter()
        for body, signature in bodies:
            status, answer = client.request(
                "POST",
                path,
                body.encode(),
                {"Content-Type": "application/x-www-form-urlencoded", "X-Mandrill-Signature": signature},
            )
            if status != 200:
                raise SystemExit(f"Mandrill webhook answered {status}: {answer[:200]}")
        return len(traces) / (time.perf_counter() - started)


def sent_traces(env, scenario, limit):
    return env["email.automation.trace"].search_read(
        [("scenario_id", "=", scenario.id), ("provider_message_id", "!=", False)],
        ["email_to", "provider_message_id"],
        limit=limit,
        order="id",
    )


def count_all_events(env):
    env.cr.execute("SELECT count(*) FROM email_automation_event")
    return env.cr.fetchone()[0]


def count_events(env, scenario, event_type):
    env.cr.execute(
        "SELECT count(*) FROM email_automation_event WHERE scenario_id = %s AND event_type = %s",
        (scenario.id, event_type),
    )
    return env.cr.fetchone()[0]


# ----------------------------------------------------------------------


def run(args, setup, smtp, brevo):
    registry = setup.registry()
    with superuser_env(registry) as env:
        progress(f"preparing {args.traces * args.runs * 2} contacts")
        providers, template, partners = prepare(env, args, smtp.port, brevo.base_url)
        per_run = [partners[i * args.traces : (i + 1) * args.traces] for i in range(args.runs * 2)]
        # Warm-up (templates, caches, connections), not counted.
        for kind in ("smtp", "brevo"):
            _tag, warm = create_contacts(env, 50, f"Warm {kind}")
            counter = (lambda: smtp.count()[0]) if kind == "smtp" else (lambda: brevo.count()[0])
            measure_sending(env, template, providers[kind], warm, f"warm-up {kind}", counter)
        smtp_rates, brevo_rates, brevo_scenarios = [], [], []
        for number in range(args.runs):
            rate, _scenario = measure_sending(
                env, template, providers["smtp"], per_run[2 * number], f"smtp #{number + 1}", lambda: smtp.count()[0]
            )
            smtp_rates.append(rate)
            rate, scenario = measure_sending(
                env,
                template,
                providers["brevo"],
                per_run[2 * number + 1],
                f"brevo #{number + 1}",
                lambda: brevo.count()[0],
            )
            brevo_rates.append(rate)
            brevo_scenarios.append(scenario)
        messages, _recipients, keys = brevo.count()
        if keys != messages:
            raise SystemExit(f"Brevo got {messages} e-mails but {keys} distinct idempotency keys")

        progress(f"starting Odoo's HTTP server ({args.server})")
        server = OdooServer(setup, args.server)
        try:
            traces = sent_traces(env, brevo_scenarios[0], args.events)
            brevo_ingest, brevo_batched, mandrill_ingest, floor, post_floor = [], [], [], [], []
            webhook_cpu, post_floor_cpu = [], []
            now = int(time.time())
            # Warm-up (the worker's caches), not counted: "request" events of older times.
            ingest_brevo(server, providers["brevo"], brevo_events(traces[:100], "request", now - 1000))
            kinds = ["delivered", "unique_opened", "click"]
            for number in range(args.runs):
                floor.append(measure_floor(server, min(len(traces), 2000)))
                progress(f"odoo floor #{number + 1}: GET /web/health {floor[-1]:7.1f} requests/s")
                event = kinds[number % len(kinds)]
                figures = side_by_side(server, providers["brevo"], traces, event, now + number)
                brevo_ingest.append(figures["webhook"][0])
                webhook_cpu.append(figures["webhook"][1])
                post_floor.append(figures["floor"][0])
                post_floor_cpu.append(figures["floor"][1])
                progress(
                    f"brevo webhook #{number + 1} ({event}): {len(traces)} events, "
                    f"{figures['webhook'][0]:7.1f} events/s ({figures['webhook'][1]:.2f} ms CPU each); "
                    f"minimal POST route {figures['floor'][0]:7.1f} requests/s ({figures['floor'][1]:.2f} ms CPU each)"
                )
                # The same kind of events a second later, in Brevo's batched mode.
                rate = ingest_brevo(
                    server, providers["brevo"], brevo_events(traces, event, now + 50 + number), batch=BREVO_BATCH
                )
                brevo_batched.append(rate)
                progress(f"brevo batched #{number + 1} ({event}): {len(traces)} events, {rate:7.1f} events/s")
            mandrill_traces = sent_traces(env, brevo_scenarios[-1], args.events)
            # A new snapshot: the server updated these traces since this transaction began.
            env.cr.commit()
            # The Mandrill provider reports on e-mails it "sent": hand them over.
            env["email.automation.trace"].browse([t["id"] for t in mandrill_traces]).write(
                {"provider_id": providers["mandrill"].id}
            )
            env.cr.commit()
            for number in range(args.runs):
                rate = ingest_mandrill(server, providers["mandrill"], mandrill_traces, now + 100 + number)
                mandrill_ingest.append(rate)
                progress(f"mandrill webhook #{number + 1}: {len(mandrill_traces)} events, {rate:7.1f} events/s")
            # The webhooks only queue the events: the intake's cron job records them, timed here.
            events_before = count_all_events(env)
            signals, seconds = record_intake(env)
            intake_rate = (count_all_events(env) - events_before) / seconds
            progress(f"intake: {signals} webhook events recorded in {seconds:.2f}s ({intake_rate:.0f} new events/s)")
            # Each pass of delivered events (alone, then batched) has its own timestamps.
            delivered_passes = sum(1 for number in range(args.runs) if kinds[number % len(kinds)] == "delivered")
            posted = 2 * len(traces) * delivered_passes
            stored = count_events(env, brevo_scenarios[0], "delivered")
            if stored != posted:
                raise SystemExit(f"{posted} delivered events posted, {stored} stored")
            crashes = server.crashes()
        finally:
            server.stop()
    return {
        "intake_rate": intake_rate,
        "smtp": smtp_rates,
        "brevo": brevo_rates,
        "brevo_webhook": brevo_ingest,
        "brevo_batched": brevo_batched,
        "mandrill_webhook": mandrill_ingest,
        "floor": floor,
        "post_floor": post_floor,
        "webhook_cpu": webhook_cpu,
        "post_floor_cpu": post_floor_cpu,
        "crashes": crashes,
        "events": len(traces),
    }


def report(args, results):
    smtp, brevo = statistics.median(results["smtp"]), statistics.median(results["brevo"])
    webhook = statistics.median(results["brevo_webhook"])
    batched = statistics.median(results["mandrill_webhook"])

    def runs(values):
        return " / ".join(f"{value:.1f}" for value in values)

    print(
        f"crm_email_automation {args.engine}; {args.traces} traces per run, {args.runs} runs, medians; "
        f"webhooks on one {args.server} Odoo server"
    )
    print(f"Sending, SMTP provider (aiosmtpd):      {smtp:8.1f} traces/s   (runs {runs(results['smtp'])})")
    print(f"Sending, Brevo API (local server):      {brevo:8.1f} traces/s   (runs {runs(results['brevo'])})")
    print(f"Ratio Brevo / SMTP:                     {brevo / smtp:8.2f}x")
    print(
        f"Webhooks, Brevo, one event per request: {webhook:8.1f} events/s   "
        f"(runs {runs(results['brevo_webhook'])}; {results['events']} events each; target >= {WEBHOOK_TARGET:.0f})"
    )
    brevo_batched = statistics.median(results["brevo_batched"])
    print(
        f"Webhooks, Brevo, batched by {BREVO_BATCH}:        {brevo_batched:8.1f} events/s   "
        f"(runs {runs(results['brevo_batched'])})"
    )
    print(
        f"Odoo's floor, GET /web/health:         {statistics.median(results['floor']):8.1f} requests/s "
        f"(runs {runs(results['floor'])}; the same server, no database work)"
    )
    print(
        f"Webhooks, Mandrill, 1,000 per request:  {batched:8.1f} events/s   (runs {runs(results['mandrill_webhook'])})"
    )
    post_floor = statistics.median(results["post_floor"])
    ratios = [w / f for w, f in zip(results["brevo_webhook"], results["post_floor"], strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"Minimal POST route ({FLOOR_PATH}):  {post_floor:8.1f} requests/s (runs {runs(results['post_floor'])}; "
        f"by turns with the one-event webhook above)"
    )
    print(
        f"Worker CPU per request: webhook {statistics.median(results['webhook_cpu']):.2f} ms, minimal POST route "
        f"{statistics.median(results['post_floor_cpu']):.2f} ms (the {args.server} server's HTTP process)"
    )
    one_event_ok = webhook >= WEBHOOK_TARGET or ratio >= FLOOR_RATIO_TARGET
    print(
        f"One-event webhook / minimal POST route: {ratio:8.2f}x     (runs "
        f"{' / '.join(f'{r:.2f}' for r in ratios)}; target >= {WEBHOOK_TARGET:.0f} events/s or >= "
        f"{FLOOR_RATIO_TARGET:.2f}x: {'met' if one_event_ok else 'NOT MET'})"
    )
    print(
        f"Intake, recording the queued events:    {results['intake_rate']:8.1f} events/s   (afterwards, in-process, "
        "as its cron job does)"
    )
    if results["crashes"]:
        print(
            f"WARNING: {results['crashes']} traceback(s) in the server's output: in prefork, a gevent process that "
            "dies at start-up is respawned in a loop and eats a core (see bench/README.md)"
        )
    # Brevo can batch its webhooks too; Mandrill always does.
    return one_event_ok and max(webhook, batched, brevo_batched) >= WEBHOOK_TARGET


def main(argv=None):
    return run_in_bench_database(
        parse_args(argv),
        [SmtpSink(), BrevoSink()],
        run,
        report,
        modules=f"crm_email_automation,{FLOOR_ADDON}",
        extra_addons=[str(BENCH_DIR / "addons")],
    )


if __name__ == "__main__":
    sys.exit(main())
