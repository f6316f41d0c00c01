"""Sending measurements: our queue against Odoo's mass mailing (section 1) and the cost per
trace with a small or a large queue (section 3). Both deliver over SMTP to the sink."""

import time

from fixtures import add_future_traces, clean_mail_data, create_mailing, trace_states
from report import progress


class MailBench:
    """What the sending measurements share: the environment, the SMTP sink and the data."""

    def __init__(self, env, sink, server, scenario, floor):
        self.env = env
        self.sink = sink
        self.server = server
        self.scenario = scenario
        self.floor = floor

    def clean(self):
        clean_mail_data(self.env, self.floor)
        self.sink.reset()

    # ------------------------------------------------------------------
    # Ours
    # ------------------------------------------------------------------

    def run_ours(self, partners, future_traces=0, label="ours"):
        """Enrol `partners` (timed apart), then time the processing of the queue.

        With `future_traces`, that many traces not due for 30 days are queued as well.
        """
        env, cr = self.env, self.env.cr
        self.clean()
        if future_traces:
            add_future_traces(env, self.scenario, future_traces)
        started = time.perf_counter()
        self.scenario._enrol(partners.ids)
        cr.commit()
        enrol_s = time.perf_counter() - started
        env.invalidate_all()

        queries, cpu = cr.sql_log_count, time.process_time()
        started = time.perf_counter()
        processed = env["email.automation.queue"]._process_due_traces(auto_commit=True)
        cr.commit()
        process_s = time.perf_counter() - started
        queries, cpu = cr.sql_log_count - queries, time.process_time() - cpu

        received, _rcpts, distinct = self.sink.count()
        states = trace_states(env, self.scenario.ids)
        expected = {"sent": len(partners), **({"scheduled": future_traces} if future_traces else {})}
        ok = (
            processed == len(partners)
            and received == len(partners)
            and distinct == len(partners)
            and states == expected
        )
        result = {
            "n": len(partners),
            "enrol_s": enrol_s,
            "process_s": process_s,
            "ms_per_mail": 1000 * process_s / len(partners),
            "cpu_ms_per_mail": 1000 * cpu / len(partners),
            "queries_per_mail": queries / len(partners),
            "received": received,
            "ok": ok,
        }
        progress(
            f"{label}: {len(partners)} traces (+{future_traces} not due) in {process_s:.1f}s = "
            f"{result['ms_per_mail']:.2f} ms/e-mail ({result['cpu_ms_per_mail']:.2f} ms Python CPU), "
            f"{result['queries_per_mail']:.1f} queries/e-mail, enrolment {enrol_s:.1f}s; "
            f"SMTP received {received}; traces {states}" + ("" if ok else "  <-- MISMATCH")
        )
        return result

    # ------------------------------------------------------------------
    # Odoo's mass mailing
    # ------------------------------------------------------------------

    def run_mass_mailing(self, tag, count, label="mass_mailing"):
        """Send a mailing to the contacts tagged `tag` and empty the mail queue, timed."""
        env, cr = self.env, self.env.cr
        self.clean()
        mailing = create_mailing(env, tag, self.server, label)
        cr.commit()
        env.invalidate_all()

        queries, cpu = cr.sql_log_count, time.process_time()
        started = time.perf_counter()
        mailing.action_send_mail()
        cr.commit()
        compose_s = time.perf_counter() - started
        Mail = env["mail.mail"]
        outgoing = [("state", "=", "outgoing"), ("mailing_id", "=", mailing.id)]
        left = Mail.search_count(outgoing)
        while left:
            Mail.process_email_queue()
            cr.commit()
            now_left = Mail.search_count(outgoing)
            if now_left >= left:  # nothing moved: the queue is stuck, do not loop forever
                break
            left = now_left
        process_s = time.perf_counter() - started
        queries, cpu = cr.sql_log_count - queries, time.process_time() - cpu

        received, _rcpts, distinct = self.sink.count()
        traces = env["mailing.trace"].search_count([("mass_mailing_id", "=", mailing.id)])
        ok = received == count and distinct == count and traces == count and not left
        result = {
            "n": count,
            "compose_s": compose_s,
            "process_s": process_s,
            "ms_per_mail": 1000 * process_s / count,
            "cpu_ms_per_mail": 1000 * cpu / count,
            "queries_per_mail": queries / count,
            "received": received,
            "ok": ok,
        }
        progress(
            f"{label}: {count} e-mails in {process_s:.1f}s (composing {compose_s:.1f}s) = "
            f"{result['ms_per_mail']:.2f} ms/e-mail ({result['cpu_ms_per_mail']:.2f} ms Python CPU), "
            f"{result['queries_per_mail']:.1f} queries/e-mail; "
            f"SMTP received {received}; mailing traces {traces}, left in queue {left}"
            + ("" if ok else "  <-- MISMATCH")
        )
        return result


def measure_throughput(bench, audience_tag, audience, warm_tag, warm, runs, mass_mailing_runs):
    """Section 1: ours and mass mailing, run after run, after one warm-up of each."""
    progress(f"section 1: warm-up with {len(warm)} e-mails each")
    bench.run_ours(warm, label="warm-up ours")
    bench.run_mass_mailing(warm_tag, len(warm), label="warm-up mass_mailing")
    ours, mass = [], []
    for run in range(max(runs, mass_mailing_runs)):
        if run < runs:
            ours.append(bench.run_ours(audience, label=f"section 1 run {run + 1} ours"))
        if run < mass_mailing_runs:
            mass.append(
                bench.run_mass_mailing(audience_tag, len(audience), label=f"section 1 run {run + 1} mass_mailing")
            )
    bench.clean()
    return {"ours": ours, "mass_mailing": mass}


def measure_scaling(bench, partners, total, runs):
    """Section 3: the same due traces with nothing else queued, and with `total` queued."""
    future = max(total - len(partners), 0)
    small, large = [], []
    bench.run_ours(partners[: max(len(partners) // 10, 1)], label="warm-up scaling")
    for run in range(runs):
        small.append(bench.run_ours(partners, label=f"section 3 run {run + 1} {len(partners)} queued"))
        large.append(bench.run_ours(partners, future_traces=future, label=f"section 3 run {run + 1} {total} queued"))
    bench.clean()
    return {"small": small, "large": large, "future": future}
