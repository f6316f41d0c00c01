"""Latency of a transactional e-mail: from the commit of the event to the e-mail accepted
by SMTP, on a real Odoo server with its cron (issue 11 §1).

A real ``odoo-bin`` serves its own database: threaded with one cron thread (Odoo's
default), or ``--server prefork``: prefork with HTTP workers and one cron worker (how Odoo
runs in production). A running transactional scenario sends a welcome e-mail to every new
contact (trigger "on creation", one step due at once). The script creates contacts over
XML-RPC at a steady rate (1 and 20 per second by default), each in its own request, so each
commits in the server, and times from the answer of each request (its commit happened just
before) to the moment the SMTP sink (aiosmtpd, a process of its own, bench/smtp_sink.py)
accepted that contact's e-mail. Reported per rate: p50 and p95 of each run and the medians
of the runs; target: p95 <= 10 s at 20 events per second.

The queue is woken at the commit of each enrolling transaction
(`email.automation.queue._wake_up`); the cron's 5-minute interval is only a safety net.

    python bench/bench_latency.py [--runs 3] [--seconds 30] [--rates 1,20] [--server threaded|prefork]
"""

import argparse
import signal
import statistics
import sys
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import bench_providers
from fixtures import create_template, setup_mail_server
from odoo_env import DB_PREFIX, OdooSetup, default_odoo_dir, engine_version, superuser_env
from sink_process import free_port
from smtp_sink import SmtpSink

TARGET_P95 = 10.0  # seconds, at 20 events per second
TARGET_RATE = 20
DOMAIN = "latency.bench.example.com"
ADMIN_PASSWORD = "admin"  # noqa: S105 - the bench database's own admin, created without demo data


def progress(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def prepare(env, smtp_port):
    """The SMTP sink as the only mail server, and a running welcome scenario for new contacts."""
    server = setup_mail_server(env, smtp_port)
    template = create_template(env, "res.partner", "Welcome", "Welcome, {{ object.name }}", "<p>Welcome!</p>")
    scenario = env["email.automation.scenario"].create(
        {
            "name": "Welcome new contacts",
            "model_id": env["ir.model"]._get_id("res.partner"),
            "category": "transactional",
            "trigger": "on_create",
            "domain": repr([("email", "=ilike", f"%@{DOMAIN}")]),
            "mail_server_id": server.id,
            "step_ids": [
                (0, 0, {"name": "Welcome", "trigger_type": "begin", "delay": 0, "mail_template_id": template.id})
            ],
        }
    )
    scenario.action_start()
    env["res.users"].browse(2).password = ADMIN_PASSWORD
    cron = env.ref("crm_email_automation.ir_cron_process_queue")
    return f"every {cron.interval_number} {cron.interval_type}"


class OdooServer(bench_providers.OdooServer):
    """odoo-bin on the bench database with its cron: threaded with one cron thread, or
    prefork with `http_workers` HTTP workers and one cron worker."""

    http_workers = 2

    def __init__(self, setup, mode):
        super().__init__(setup, mode)
        time.sleep(3)  # the cron thread or worker starts listening after the HTTP server

    def options(self, setup, mode):
        return [
            *(a for a in setup.odoo_args() if not a.startswith("--max-cron-threads")),
            "--max-cron-threads=1",
            f"--gevent-port={free_port()}",
            *([f"--workers={self.http_workers}", "--limit-time-real-cron=600"] if mode == "prefork" else []),
        ]


class EventSender:
    """Creates contacts over XML-RPC, one request each, at a steady rate (open loop: each
    is sent at its time whatever the server's delay with the others)."""

    def __init__(self, server, db_name, threads=8):
        self.url = f"{server.url}/xmlrpc/2/object"
        self.db_name = db_name
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=threads)

    def _create(self, email):
        if not hasattr(self.local, "proxy"):
            self.local.proxy = xmlrpc.client.ServerProxy(self.url, allow_none=True)
        self.local.proxy.execute_kw(
            self.db_name, 2, ADMIN_PASSWORD, "res.partner", "create", [{"name": email, "email": email}]
        )
        return time.time()  # the commit happened just before the answer

    def send(self, rate, seconds, label):
        """{email: commit time} of rate * seconds contacts created at `rate` per second."""
        count = int(rate * seconds)
        started = time.monotonic()
        futures = {}
        for number in range(count):
            delay = started + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            email = f"{label}.{number:05d}@{DOMAIN}"
            futures[email] = self.pool.submit(self._create, email)
        return {email: future.result() for email, future in futures.items()}

    def close(self):
        self.pool.shutdown()


def measure(sender, smtp, rate, seconds, label, wait):
    smtp.reset()
    committed = sender.send(rate, seconds, label)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        accepted = smtp.accepted_times()
        if all(email in accepted for email in committed):
            break
        time.sleep(0.5)
    latencies = [accepted.get(email, float("inf")) - at for email, at in committed.items()]
    lost = sum(1 for email in committed if email not in accepted)
    return latencies, lost


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each rate; medians are reported")
    parser.add_argument("--seconds", type=float, default=30, help="how long each run sends events")
    parser.add_argument("--rates", default="1,20", help="events per second, comma-separated")
    parser.add_argument("--server", choices=["threaded", "prefork"], default="threaded")
    parser.add_argument("--http-workers", type=int, default=2, help="prefork: HTTP workers (plus one cron worker)")
    parser.add_argument("--wait", type=float, default=360, help="seconds to wait for the last e-mails of a run")
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.rates = [float(rate) for rate in args.rates.split(",")]
    args.db_name = f"{DB_PREFIX}latency_{datetime.now():%Y%m%d_%H%M%S}"
    return args


def report(args, results, cycle):
    print(
        f"crm_email_automation {engine_version()}; event commit -> e-mail accepted by SMTP; "
        f"{args.server} server, one cron {'worker' if args.server == 'prefork' else 'thread'}; "
        f"queue cron {cycle}; {args.runs} run(s) of {args.seconds:g} s per rate, medians"
    )
    print(f"{'events/s':>8} {'events':>7} {'p50 s':>8} {'p95 s':>8} {'max s':>8} {'lost':>5}  runs (p50 / p95)")
    met = True
    for rate, runs in results.items():
        p50 = statistics.median(statistics.median(latencies) for latencies, _lost in runs)
        p95 = statistics.median(percentile(latencies, 0.95) for latencies, _lost in runs)
        worst = max(max(latencies) for latencies, _lost in runs)
        lost = sum(lost for _latencies, lost in runs)
        detail = "; ".join(
            f"{statistics.median(latencies):.2f} / {percentile(latencies, 0.95):.2f}" for latencies, _lost in runs
        )
        verdict = ""
        if rate == TARGET_RATE:
            ok = p95 <= TARGET_P95 and not lost
            met &= ok
            verdict = f"  target p95 <= {TARGET_P95:g} s: {'met' if ok else 'NOT MET'}"
        count = len(runs[0][0])
        print(f"{rate:>8g} {count:>7} {p50:>8.2f} {p95:>8.2f} {worst:>8.2f} {lost:>5}  {detail}{verdict}")
    return met


def main(argv=None):
    args = parse_args(argv)
    # Stopped with a signal, still stop the server and drop the database (see finally).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    setup = OdooSetup(args.odoo_dir, args.db_name)
    setup.load_config()
    created = False
    server = sender = None
    try:
        with SmtpSink() as smtp:
            if setup.database_exists():
                raise SystemExit(f"database {args.db_name} already exists: refusing to reuse or drop it")
            created = True
            progress(f"creating database {args.db_name}")
            setup.create_database(modules="crm_email_automation")
            with superuser_env(setup.registry()) as env:
                cycle = prepare(env, smtp.port)
            progress(f"starting odoo-bin ({args.server})")
            OdooServer.http_workers = args.http_workers
            server = OdooServer(setup, args.server)
            sender = EventSender(server, args.db_name)
            measure(sender, smtp, 2, 3, "warm-up", args.wait)  # caches, connections; not counted
            results = {rate: [] for rate in args.rates}
            for run in range(args.runs):
                for rate in args.rates:
                    latencies, lost = measure(sender, smtp, rate, args.seconds, f"r{run}-{rate:g}", args.wait)
                    results[rate].append((latencies, lost))
                    progress(
                        f"run {run + 1}, {rate:g} events/s: n={len(latencies)} p50 {statistics.median(latencies):.2f} s"
                        f", p95 {percentile(latencies, 0.95):.2f} s, max {max(latencies):.2f} s, lost {lost}"
                    )
        return 0 if report(args, results, cycle) else 1
    finally:
        if sender is not None:
            sender.close()
        if server is not None:
            server.stop()
        if created and not args.keep_db:
            import odoo  # noqa: PLC0415

            odoo.modules.registry.Registry.delete(args.db_name)
            setup.drop_database()


if __name__ == "__main__":
    sys.exit(main())
