"""Branch latency: from an open or a click arriving to the positive branch's e-mail
accepted by SMTP.

A real Odoo server (odoo-bin, threaded, one cron thread, as in production) runs the queue;
this script plays the recipients' mail clients: for each recipient of a sent e-mail (with
tracking on, dated an hour back so that the fetch is a person's) it fetches the open pixel,
or the tracked link, through that server over HTTP, and times until the e-mail of the step
"Thanks" (on "opened", delay 0; a click proves the open) reaches the SMTP server (aiosmtpd,
in this process). The queue is woken at the commit of the request
(`email.automation.queue._wake_up`), so the e-mail should leave within seconds, not at the
next scheduled run.

Three figures per run: pixels one at a time (each waits for its e-mail), clicks one at a
time, and a burst (all the pixels fetched back to back). Reported: median and p95 of each
run, and the median of the runs; target: p95 within one queue cycle (the cron's interval).

    python bench/bench_branch_latency.py [--runs 3] [--events 20] [--keep-db]
"""

import argparse
import email.utils
import http.client
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime

from odoo_env import DB_PREFIX, PROJECT_DIR, OdooSetup, default_odoo_dir, superuser_env
from sink_process import free_port

OFFER_URL = "https://shop.example.com/offer"
MAIL_CLIENT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
FIGURES = ("pixel", "click", "pixel burst")


class RecordingHandler:
    """Keeps when each message was accepted, by recipient and subject."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = {}  # (recipient, subject word) -> time.time()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        now = time.time()
        subject = ""
        for line in envelope.content.decode(errors="replace").splitlines():
            if line.lower().startswith("subject:"):
                subject = line.split(":", 1)[1].strip().split(" ")[0]
                break
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.accepted.setdefault((recipient.lower(), subject), now)
        return "250 Message accepted for delivery"

    def wait_for(self, key, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if key in self.accepted:
                    return self.accepted[key]
            time.sleep(0.01)
        return None


def percentile(values, fraction):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def setup_data(env, port, total):
    env["ir.mail_server"].search([]).write({"active": False})
    server = env["ir.mail_server"].create(
        {"name": "Branch bench SMTP", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_encryption": "none"}
    )
    env.company.email = "bench.sender@example.com"
    model_id = env["ir.model"]._get_id("res.partner")
    templates = {
        name: env["mail.template"].create(
            {
                "name": name,
                "model_id": model_id,
                "subject": f"{name} {{{{ object.name }}}}",
                "body_html": f"<p>Hi, see <a href='{OFFER_URL}'>our offer</a>.</p>",
            }
        )
        for name in ("Offer", "Thanks")
    }
    provider = env["email.automation.provider"].create(
        {"name": "Branch bench", "kind": "smtp", "mail_server_id": server.id}
    )
    scenario = env["email.automation.scenario"].create(
        {
            "name": "Branch latency",
            "model_id": model_id,
            "trigger": "manual",
            "category": "transactional",
            "is_tracking_enabled": True,
            "provider_id": provider.id,
            "step_ids": [(0, 0, {"name": "Offer", "trigger_type": "begin", "mail_template_id": templates["Offer"].id})],
        }
    )
    env["email.automation.step"].create(
        {
            "name": "Thanks",
            "scenario_id": scenario.id,
            "parent_id": scenario.step_ids.id,
            "trigger_type": "mail_opened",
            "trigger_window": 1,
            "mail_template_id": templates["Thanks"].id,
            "delay": 0,
        }
    )
    scenario.action_start()
    partners = env["res.partner"].create(
        [{"name": f"Branch {i:04d}", "email": f"branch.{i:04d}@bench.example.com"} for i in range(total)]
    )
    cycle = env.ref("crm_email_automation.ir_cron_process_queue")
    seconds = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}.get(cycle.interval_type, 60)
    return scenario.id, provider.id, partners.ids, cycle.interval_number * seconds


def send_offers(registry, scenario_id, partner_ids):
    with superuser_env(registry) as env:
        env["email.automation.scenario"].browse(scenario_id)._enrol(partner_ids)
    # The server's cron, woken by the enrolment, may be sending some of them meanwhile.
    for _attempt in range(600):
        with superuser_env(registry) as env:
            env["email.automation.queue"]._process_due_traces(auto_commit=True)
            traces = env["email.automation.trace"].search(
                [("scenario_id", "=", scenario_id), ("participant_id.res_id", "in", partner_ids)]
            )
            if len(traces) == len(partner_ids) and set(traces.mapped("state")) == {"sent"}:
                break
        time.sleep(0.1)
    with superuser_env(registry) as env:
        traces = env["email.automation.trace"].search(
            [("scenario_id", "=", scenario_id), ("participant_id.res_id", "in", partner_ids), ("state", "=", "sent")]
        )
        # Read an hour after they arrived: a person's open, not a privacy proxy's prefetch.
        env.cr.execute(
            "UPDATE email_automation_trace SET sent_at = sent_at - interval '1 hour' WHERE id IN %s",
            (tuple(traces.ids),),
        )
        sender = env["email.automation.mail.sender"]
        code = sender._link_tracker_codes([OFFER_URL])[OFFER_URL]
        return {
            trace.participant_id.res_id: {
                "address": email.utils.parseaddr(trace.email_to)[1].lower(),
                "pixel": sender._open_path(trace.id),
                "click": sender._click_path(trace.id, code),
            }
            for trace in traces
        }


def fetch(connection, path, expected):
    """GET `path` as a mail client does; the answer must be `expected` (200 pixel, 302 link)."""
    connection.request("GET", path, headers={"User-Agent": MAIL_CLIENT})
    response = connection.getresponse()
    response.read()
    if response.status != expected:
        raise RuntimeError(f"GET {path}: {response.status}, expected {expected}")


def measure(http_port, handler, sent, cycle, figure):
    """Latencies (s) from each fetch sent to the branch e-mail accepted by SMTP."""
    route, expected = ("click", 302) if figure == "click" else ("pixel", 200)
    burst = figure == "pixel burst"
    arrived = {}
    latencies = []
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=cycle + 60)
    try:
        for mail in sent.values():
            arrived[mail["address"]] = time.time()
            fetch(connection, mail[route], expected)
            if not burst:
                accepted = handler.wait_for((mail["address"], "Thanks"), cycle + 60)
                latencies.append((accepted or float("inf")) - arrived[mail["address"]])
    finally:
        connection.close()
    if burst:
        for address, started in arrived.items():
            accepted = handler.wait_for((address, "Thanks"), cycle + 60)
            latencies.append((accepted or float("inf")) - started)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=20, help="opens per figure and run")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--reuse-db", help=f"an existing {DB_PREFIX}* database with the module installed (kept afterwards)"
    )
    args = parser.parse_args()
    # Stopped with a signal, still stop the server and drop the database (see finally).
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(1))

    db_name = args.reuse_db or f"{DB_PREFIX}branch_{datetime.now():%Y%m%d_%H%M%S}"
    args.keep_db = args.keep_db or bool(args.reuse_db)
    setup = OdooSetup(args.odoo_dir, db_name)
    setup.load_config()
    from aiosmtpd.controller import Controller  # noqa: PLC0415

    handler = RecordingHandler()
    smtp_port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    server = None
    try:
        if not args.reuse_db:
            print(f"creating {db_name}...", file=sys.stderr)
            setup.create_database(modules="crm_email_automation")
        registry = setup.registry()
        total = args.runs * len(FIGURES) * args.events
        with superuser_env(registry) as env:
            scenario_id, _provider_id, partner_ids, cycle = setup_data(env, smtp_port, total)
        http_port = free_port()
        args_server = [a for a in setup.odoo_args() if not a.startswith("--max-cron-threads")]
        server = subprocess.Popen(  # noqa: S603 - odoo-bin of the given source, fixed arguments
            [
                sys.executable,
                str(setup.odoo_dir / "odoo-bin"),
                *args_server,
                "--max-cron-threads=1",
                f"--http-port={http_port}",
                "--http-interface=127.0.0.1",
            ]
        )
        for _attempt in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{http_port}/web/health", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)  # the cron thread starts listening after the HTTP server
        print(f"queue cycle: {cycle} s; engine {PROJECT_DIR.name}", file=sys.stderr)
        results = {figure: [] for figure in FIGURES}
        for run in range(args.runs):
            for index, figure in enumerate(results):
                start = (run * len(FIGURES) + index) * args.events
                sent = send_offers(registry, scenario_id, partner_ids[start : start + args.events])
                latencies = measure(http_port, handler, sent, cycle, figure)
                results[figure].append(latencies)
                print(
                    f"run {run + 1} {figure}: n={len(latencies)} median {statistics.median(latencies):.3f} s, "
                    f"p95 {percentile(latencies, 0.95):.3f} s, max {max(latencies):.3f} s",
                    file=sys.stderr,
                )
        met = True
        print(f"Open or click to the branch e-mail accepted by SMTP (queue cycle {cycle} s), {args.runs} run(s)")
        print(f"{'figure':<15} {'median s':>10} {'p95 s':>10} {'max s':>10}  target p95 <= {cycle} s")
        for figure, runs in results.items():
            medians = statistics.median(statistics.median(r) for r in runs)
            p95 = statistics.median(percentile(r, 0.95) for r in runs)
            worst = max(max(r) for r in runs)
            ok = p95 <= cycle
            met &= ok
            print(f"{figure:<15} {medians:>10.3f} {p95:>10.3f} {worst:>10.3f}  {'met' if ok else 'NOT MET'}")
        return 0 if met else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        controller.stop()
        if not args.keep_db:
            import odoo  # noqa: PLC0415

            odoo.modules.registry.Registry.delete(db_name)
            setup.drop_database()


if __name__ == "__main__":
    sys.exit(main())
