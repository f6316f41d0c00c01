"""The queue in lanes on two real Odoo servers in prefork mode sharing one PostgreSQL.

1. Throughput with 1 and 2 lanes, alternated in the same run (`--runs` each, medians):
   `--probe` traces due at once, from the commit that wakes the lanes to the last one
   processed; with the CPU the servers, their PostgreSQL backends and the SMTP sink used.
2. The crash: `--traces` traces, 2 lanes; when `--kill-at` of them reached the SMTP sink,
   one server (master and workers) is killed with SIGKILL, then restarted. Every e-mail
   must arrive exactly once (counted at the sink by Message-ID and recipient, and by
   trace and recipient), nothing lost (every trace sent), each logged once in the chatter.

Run: ``python bench/bench_lanes.py --traces 100000`` (develop with ``--traces 2000``).
The exit status is 0 when the crash run delivered every e-mail exactly once.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_meter import CpuMeter
from fixtures import create_contacts, create_scenario, create_template, setup_mail_server
from odoo_env import OdooSetup, default_odoo_dir, engine_version, snapshot_addon, superuser_env
from smtp_sink import SmtpSink


def log(message):
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------
# Odoo servers
# ----------------------------------------------------------------------


class OdooServer:
    """`odoo-bin --workers=2 --max-cron-threads=N` on a port, in a process group of its own."""

    def __init__(self, setup, port, cron_workers, workdir, http=False):
        self.setup, self.port, self.cron_workers, self.http = setup, port, cron_workers, http
        self.conf = Path(workdir) / f"odoo-{port}.conf"
        self.logfile = Path(workdir) / f"odoo-{port}.log"
        options = {
            "addons_path": setup.addons_path,
            "db_name": setup.db_name,
            "dbfilter": f"^{setup.db_name}$",
            "list_db": "False",
            "http_interface": "127.0.0.1",
            "http_port": port,
            "gevent_port": port + 1000,
            "workers": 2,
            "max_cron_threads": cron_workers,
            # Without HTTP the prefork master spawns the cron workers only (no HTTP workers,
            # no gevent process): the lanes are measured alone.
            "http_enable": http,
            # A lane runs up to 4 minutes per job (the queue's time budget): Odoo's default
            # limits (60 s CPU, 120 s real per unit of work) would kill it mid-batch.
            "limit_time_cpu": 3600,
            "limit_time_real": 3600,
            "limit_time_real_cron": 0,
            "log_level": "warn",
            "logfile": self.logfile,
        }
        for option in setup.db_options:  # --db_host=..., as given to the benchmark
            key, _sep, value = option.lstrip("-").partition("=")
            options[key.replace("-", "_")] = value
        self.conf.write_text("[options]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def start(self):
        self.proc = subprocess.Popen(  # noqa: S603 - odoo-bin of --odoo-dir, our own config
            [sys.executable, str(self.setup.odoo_dir / "odoo-bin"), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout=600):
        """Until the server answers /web/health (its HTTP workers are up)."""
        if not self.http:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/web/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise SystemExit(f"the server on port {self.port} did not start; see {self.logfile}")

    def kill(self):
        """SIGKILL the master and its workers at once, as a crashed machine would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.pid:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# ----------------------------------------------------------------------
# The benchmark
# ----------------------------------------------------------------------


class LaneBench:
    def __init__(self, setup, args):
        self.setup, self.args = setup, args
        self.registry = setup.registry()

    def sql(self, query, params=()):
        with self.registry.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall()

    def backend_pids(self):
        rows = self.sql("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.setup.db_name])
        return [pid for (pid,) in rows]

    def prepare(self, sink_port):
        args = self.args
        with superuser_env(self.registry) as env:
            self.server = setup_mail_server(env, sink_port)
            set_param = env["ir.config_parameter"].set_param
            # Only for claims of a live but hung worker: a killed server's come back at once.
            set_param("crm_email_automation.stale_claim_minutes", args.stale_minutes)
            self.template = create_template(env, "res.partner", "Lanes bench", "Hello {{ object.name }}", "<p>Hi</p>")
            env.cr.commit()
            _tag, partners = create_contacts(env, args.contacts, "Lanes")
            self.partner_ids = partners.ids
            # The crash run's traces are made now, their scenarios paused until their turn.
            self.crash_scenarios = self.enrol(env, "Crash", args.traces)
        log(f"prepared {args.contacts} contacts, {args.traces} traces for the crash run")

    def enrol(self, env, name, count):
        """Scenarios with `count` traces due now in all, paused until their turn (the
        claim skips paused scenarios), one per `--contacts` traces."""
        scenarios = env["email.automation.scenario"]
        for number, start in enumerate(range(0, count, len(self.partner_ids))):
            scenario = create_scenario(env, "res.partner", self.template, f"{name} {number}", server=self.server)
            scenario._enrol(self.partner_ids[: count - start])
            scenario.state = "paused"
            env.cr.commit()
            scenarios |= scenario
        return scenarios

    def set_lanes(self, count):
        """As the Settings do; Odoo refuses to archive a lane whose job is still running
        (its last batch ending), as it refuses any change to a running scheduled action:
        try again, as a user would."""
        import odoo  # noqa: PLC0415 - loaded by OdooSetup.load_config()

        for _attempt in range(120):
            try:
                with superuser_env(self.registry) as env:
                    env["ir.config_parameter"].set_param("crm_email_automation.queue_lanes", count)
                    env["email.automation.queue"]._sync_lanes(count)
                return
            except odoo.exceptions.UserError:
                time.sleep(1)
        raise SystemExit(f"could not set {count} lane(s): a lane's job kept running")

    def states(self, scenario_ids):
        """Traces by state, and as "unlogged" those sent but not logged in the chatter yet
        (a killed server's last batch: the next lane run's housekeeping logs them)."""
        rows = self.sql(
            """
            SELECT CASE WHEN state = 'sent' AND mail_message_id IS NULL THEN 'unlogged' ELSE state END, count(*)
              FROM email_automation_trace WHERE scenario_id = ANY(%s) GROUP BY 1
            """,
            [list(scenario_ids)],
        )
        return Counter(dict(rows))

    def wait_done(self, scenario_ids, on_poll=None, timeout=None):
        """Poll until every trace of the scenarios is finished and logged; wake the lanes
        every 20 s while only claims or unlogged e-mails are left (what the 5-minute
        scheduled run would do), so that one lane's housekeeping takes over what a killed
        server left."""
        started = time.monotonic()
        last_trigger = started
        while True:
            states = self.states(scenario_ids)
            if not states["scheduled"] and not states["processing"] and not states["unlogged"]:
                return states
            if on_poll:
                on_poll(states)
            if not states["scheduled"] and time.monotonic() - last_trigger > 20:
                with superuser_env(self.registry) as env:
                    env["email.automation.queue"]._trigger_lanes()
                last_trigger = time.monotonic()
            if timeout and time.monotonic() - started > timeout:
                raise SystemExit(f"not finished after {timeout}s: {dict(states)}")
            time.sleep(0.5)

    def run_probe(self, lanes, run, meter, count=None):
        """`--probe` traces due at once, processed by `lanes` lanes: (e-mails/s, CPU)."""
        count = count or self.args.probe
        self.set_lanes(lanes)
        with superuser_env(self.registry) as env:
            scenarios = self.enrol(env, f"Probe {lanes} lane(s) run {run}", count)
            env.cr.commit()
        with superuser_env(self.registry) as env:
            scenarios.with_env(env).write({"state": "running"})
            env["email.automation.queue"]._trigger_lanes()
            env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
            (self.t0,) = env.cr.fetchone()
            meter.start()
        states = self.wait_done(scenarios.ids, timeout=3600)
        cpu = meter.stop()
        ((last,),) = self.sql(
            "SELECT max(processed_at) FROM email_automation_trace WHERE scenario_id = ANY(%s)", [scenarios.ids]
        )
        seconds = (last - self.t0).total_seconds()
        if states != Counter(sent=count):  # a probe kills nothing: all logged by the lane
            raise SystemExit(f"probe {lanes} lane(s) run {run}: not all sent: {dict(states)}")
        return count / seconds, cpu

    def run_crash(self, servers, sink, baseline):
        """The crash run; returns (seconds, what the kill left claimed)."""
        args = self.args
        self.set_lanes(2)
        killed = {}
        crash_ids = self.crash_scenarios.ids

        def maybe_kill(states):
            if killed or sink.count()[0] - baseline < args.kill_at * args.traces:
                return
            victim = servers[1]
            victim.kill()
            killed["at"] = time.monotonic()
            time.sleep(0.5)
            killed["states"] = self.states(crash_ids)
            log(f"killed the server on port {victim.port} (SIGKILL): {dict(killed['states'])}")
            time.sleep(args.restart_after)
            victim.start()
            log(f"restarted the server on port {victim.port}")

        with superuser_env(self.registry) as env:
            self.crash_scenarios.with_env(env).write({"state": "running"})
            env["email.automation.queue"]._trigger_lanes()
        started = time.monotonic()
        self.wait_done(crash_ids, on_poll=maybe_kill, timeout=args.timeout)
        return time.monotonic() - started, killed

    def verify(self, ledger_path):
        """Every trace of the bench sent, each e-mail at the sink exactly once, each logged once."""
        sent = dict(self.sql("SELECT id, message_id FROM email_automation_trace"))
        states = Counter(dict(self.sql("SELECT state, count(*) FROM email_automation_trace GROUP BY state")))
        with open(ledger_path, encoding="utf-8") as ledger:
            lines = [line.rstrip("\n").split("\t") for line in ledger]
        by_message = Counter((message_id, rcpt) for message_id, _trace, rcpt in lines)
        by_trace = Counter((trace, rcpt) for _message_id, trace, rcpt in lines)
        traces_at_sink = {int(trace) for _message_id, trace, _rcpt in lines if trace.isdigit()}
        message_of_trace = {int(trace): message_id for message_id, trace, _rcpt in lines if trace.isdigit()}
        logged = Counter(
            dict(
                self.sql(
                    """
                    SELECT trace.id, count(message.id)
                      FROM email_automation_trace trace
                 LEFT JOIN mail_message message ON message.message_id = trace.message_id
                  GROUP BY trace.id
                    """
                )
            )
        )
        return {
            "traces": len(sent),
            "states": dict(states),
            "sink_lines": len(lines),
            "duplicates_by_message_id": sum(n - 1 for n in by_message.values() if n > 1),
            "duplicates_by_trace": sum(n - 1 for n in by_trace.values() if n > 1),
            "missing_at_sink": len(set(sent) - traces_at_sink),
            "unknown_at_sink": len(traces_at_sink - set(sent)),
            "message_id_mismatch": sum(1 for t, m in message_of_trace.items() if sent.get(t) != m),
            "logged_not_once": sum(1 for n in logged.values() if n != 1),
        }


def describe_cpu(cpu):
    return (
        f"Odoo {cpu['odoo']:.2f} + PostgreSQL {cpu['postgres']:.2f} + sink {cpu['sink']:.2f} cores; "
        f"machine busy {cpu['machine']:.2f} of {cpu['cores']:.0f}"
    )


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--odoo-dir", default=default_odoo_dir())
    parser.add_argument("--traces", type=int, default=100_000, help="traces of the crash run")
    parser.add_argument("--contacts", type=int, default=0, help="contacts (default: min(traces, 20,000))")
    parser.add_argument("--probe", type=int, default=2000, help="traces of each throughput run")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs per lane count")
    parser.add_argument("--ports", default="18241,18242", help="HTTP ports of the two servers")
    parser.add_argument("--cron-workers", type=int, default=1, help="--max-cron-threads of each server")
    parser.add_argument("--http", action="store_true", help="also run the HTTP and gevent workers")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction delivered when a server is killed")
    parser.add_argument("--restart-after", type=float, default=5.0, help="seconds before the restart")
    parser.add_argument("--stale-minutes", type=int, default=30, help="stale claim timeout of the bench database")
    parser.add_argument("--timeout", type=int, default=4 * 3600)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--db-option", action="append", default=[], help="e.g. --db-option=--db_host=...")
    args = parser.parse_args()
    args.contacts = args.contacts or min(args.traces, 20_000)
    return args


def main():
    args = parse_args()
    db_name = f"cea_bench_lanes_{datetime.now():%Y%m%d_%H%M%S}_{os.getpid()}"
    workdir = tempfile.mkdtemp(prefix="bench_lanes_")
    addons = snapshot_addon(Path(workdir) / "addons")
    setup = OdooSetup(args.odoo_dir, db_name, db_options=args.db_option, addons_dir=addons)
    setup.load_config()
    engine = engine_version()  # the snapshot's: the checkout may change while this runs
    log(f"creating {db_name} (engine {engine}); logs in {workdir}")
    setup.create_database(modules="crm_email_automation")
    servers = []
    ok = False
    try:
        bench = LaneBench(setup, args)
        with SmtpSink(record=True) as sink:
            bench.prepare(sink.port)
            servers = [
                OdooServer(setup, int(p), args.cron_workers, workdir, args.http).start() for p in args.ports.split(",")
            ]
            meter = CpuMeter(bench, servers, sink.pid)
            for server in servers:
                server.wait_ready()
            # Warm-up: each server's cron worker loads the registry on its first job.
            bench.run_probe(2, "warm-up", meter, count=50)
            rates = {1: [], 2: []}
            cpus = {1: [], 2: []}
            for run in range(args.runs):
                for lanes in (1, 2):
                    rate, cpu = bench.run_probe(lanes, run, meter)
                    rates[lanes].append(rate)
                    cpus[lanes].append(cpu)
                    log(f"run {run + 1}, {lanes} lane(s): {rate:.1f} e-mails/s; {describe_cpu(cpu)}")
            baseline = sink.count()[0]
            seconds, killed = bench.run_crash(servers, sink, baseline)
            ledger = Path(workdir) / "sink_ledger.tsv"
            sink.dump(ledger)
            result = bench.verify(ledger)
        ok = (
            result["states"] == {"sent": result["traces"]}
            and result["sink_lines"] == result["traces"]
            and not any(result[k] for k in result if k not in ("traces", "states", "sink_lines"))
        )
        print(
            f"Lanes benchmark, engine {engine}, {os.cpu_count()} cores, 2 servers x --workers=2 "
            f"--max-cron-threads={args.cron_workers}"
        )
        for lanes in (1, 2):
            median = statistics.median(rates[lanes])
            cpu = {k: statistics.median(c[k] for c in cpus[lanes]) for k in cpus[lanes][0]}
            print(
                f"  {lanes} lane(s): {median:.1f} e-mails/s (median of {args.runs} x {args.probe}); {describe_cpu(cpu)}"
            )
        print(f"  2 lanes / 1 lane: {statistics.median(rates[2]) / statistics.median(rates[1]):.2f}x")
        print(
            f"  crash run: {args.traces} traces in {seconds:.0f} s ({args.traces / seconds:.1f} e-mails/s) "
            f"with one server SIGKILLed at {args.kill_at:.0%} and restarted after {args.restart_after:.0f} s; "
            f"left by the kill: {killed.get('states', {}).get('processing', 0)} claimed, "
            f"{killed.get('states', {}).get('unlogged', 0)} sent but not logged"
        )
        print(f"  verification: {result}")
        print(f"  exactly once, nothing lost, each logged once: {'YES' if ok else 'NO'}")
    finally:
        for server in servers:
            server.stop()
        if not args.keep_db:
            setup.drop_database()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
