"""Where the time of our queue goes (--profile): cProfile of one processing of N due traces,
and the SQL it runs, grouped by statement kind and table, per trace."""

import contextlib
import cProfile
import io
import pstats
import re
import time
from collections import Counter, defaultdict

from report import median, progress

_VERB = re.compile(
    r"^(SELECT|INSERT INTO|UPDATE|DELETE FROM|SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|WITH)"
    r"\b\s*\"?([a-z_0-9]*)",
    re.IGNORECASE,
)
_FROM = re.compile(r"\bFROM\s+\"?([a-z_0-9]+)", re.IGNORECASE)


def _statement_key(query):
    """'SELECT res_partner', 'UPDATE email_automation_trace', ...: the statement's kind and
    its main table."""
    code = getattr(query, "code", query)
    if isinstance(code, bytes):
        code = code.decode(errors="replace")
    code = " ".join(str(code).split())
    match = _VERB.match(code)
    if not match:
        return code[:60]
    verb, name = match.group(1).upper(), match.group(2)
    if verb.endswith("SAVEPOINT"):
        return verb
    if verb in ("SELECT", "WITH"):
        table = _FROM.search(code)
        return f"{verb} {table.group(1) if table else '?'}"
    return f"{verb} {name}"


class QueryRecorder:
    """Counts the statements run on one cursor, and their time, by kind and table."""

    def __init__(self, cr):
        self.cr = cr
        self.counts = Counter()
        self.seconds = defaultdict(float)

    def __enter__(self):
        original = self.cr.execute

        def execute(query, params=None, log_exceptions=True):
            started = time.perf_counter()
            try:
                return original(query, params, log_exceptions)
            finally:
                key = _statement_key(query)
                self.counts[key] += 1
                self.seconds[key] += time.perf_counter() - started

        self.cr.execute = execute
        return self

    def __exit__(self, *exc):
        del self.cr.execute

    def table(self, per, top=25):
        lines = [f"{'statement':<52} {'per trace':>10} {'total':>8} {'ms/trace':>9}"]
        for key, count in self.counts.most_common(top):
            lines.append(f"{key[:52]:<52} {count / per:>10.2f} {count:>8} {1000 * self.seconds[key] / per:>9.3f}")
        total = sum(self.counts.values())
        lines.append(
            f"{'all statements':<52} {total / per:>10.2f} {total:>8} {1000 * sum(self.seconds.values()) / per:>9.3f}"
        )
        return "\n".join(lines)


# (model, method) pairs whose time the phase table shows, in call order; nested calls are
# indented under their caller. Methods the engine does not have (any more) are left out.
PHASES = [
    ("email.automation.queue", "_process_due_traces", 0),
    ("email.automation.trace", "_claim_due", 1),
    ("email.automation.trace", "_process", 1),
    ("email.automation.trace", "_skip_or_cancel_unfit", 2),
    ("email.automation.mail.sender", "_send_traces", 2),
    ("email.automation.mail.sender", "_prepare_envelopes", 3),
    ("email.automation.mail.sender", "_render", 3),
    ("email.automation.mail.sender", "_send_with_server", 3),
    ("email.automation.mail.sender", "_build_message", 4),
    ("ir.mail_server", "build_email", 5),
    ("ir.mail_server", "send_email", 4),
    ("ir.mail_server", "_prepare_email_message", 4),
    ("ir.mail_server", "_get_default_bounce_address", 5),
    ("email.automation.mail.sender", "_mark_sent", 4),
    ("email.automation.trace", "write", 4),
    ("email.automation.mail.sender", "_log_in_chatter", 3),
    ("mail.message", "create", 4),
    ("email.automation.participant", "_schedule_next_steps", 2),
    ("email.automation.trace", "_cancel_children_of_unfinished", 2),
    ("email.automation.participant", "_complete_finished", 2),
]


class PhaseTimer:
    """Wall time spent in the PHASES methods (and in commits), by wrapping them on the
    registry's classes for the duration of the block."""

    def __init__(self, env, phases=None, unit="trace"):
        self.env = env
        self.phases = phases or PHASES
        self.unit = unit
        self.seconds = defaultdict(float)
        self.calls = Counter()
        self._patched = []

    def _wrap(self, key, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.calls[key] += 1

        return timed

    def __enter__(self):
        registry = self.env.registry
        for model, method, _depth in self.phases:
            cls = registry.get(model)
            if cls is None or not hasattr(cls, method):
                continue
            original = cls.__dict__.get(method)  # None: inherited, delete the wrapper afterwards
            setattr(cls, method, self._wrap((model, method), getattr(cls, method)))
            self._patched.append((cls, method, original))
        cr = self.env.cr
        cr.commit = self._wrap(("cursor", "commit"), cr.commit)
        return self

    def __exit__(self, *exc):
        for cls, method, original in reversed(self._patched):
            if original is None:
                delattr(cls, method)
            else:
                setattr(cls, method, original)
        del self.env.cr.commit

    def table(self, per):
        lines = [f"{'phase':<62} {'calls':>7} {'total s':>8} {'ms/' + self.unit:>9}"]
        for model, method, depth in [*self.phases, ("cursor", "commit", 1)]:
            key = (model, method)
            if key not in self.calls:
                continue
            name = "  " * depth + f"{model}.{method}"
            lines.append(
                f"{name[:62]:<62} {self.calls[key]:>7} {self.seconds[key]:>8.2f} {1000 * self.seconds[key] / per:>9.2f}"
            )
        return "\n".join(lines)


def _process_once(bench, partners, batch_size=None, wrap=None):
    """Enrol `partners`, process the queue once (inside `wrap`, a context manager factory
    taking the environment); return (processed, seconds, received)."""
    env, cr = bench.env, bench.env.cr
    bench.clean()
    bench.scenario._enrol(partners.ids)
    cr.commit()
    env.invalidate_all()
    with wrap(env) if wrap else contextlib.nullcontext():
        started, cpu = time.perf_counter(), time.process_time()
        processed = env["email.automation.queue"]._process_due_traces(batch_size=batch_size, auto_commit=True)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    received = bench.sink.count()[0]
    bench.clean()
    return processed, seconds, received, cpu


def batch_size_sweep(bench, partners, sizes=(10, 100, 1000)):
    """ms per trace by claim batch size: a cost per e-mail that grows with the batch means
    work proportional to the batch is redone for every e-mail. The CPU time of this process
    (Odoo's Python, not PostgreSQL's) is steadier than the wall time on a busy machine."""
    lines = [f"{'batch size':>10} {'wall ms/trace':>14} {'python CPU ms/trace':>20}"]
    for size in sizes:
        processed, seconds, received, cpu = _process_once(bench, partners, batch_size=size)
        per = max(processed, 1)
        progress(
            f"profile: batch size {size}: {processed} traces, {1000 * seconds / per:.2f} ms/trace "
            f"({1000 * cpu / per:.2f} ms CPU), SMTP received {received}"
        )
        lines.append(f"{size:>10} {1000 * seconds / per:>14.2f} {1000 * cpu / per:>20.2f}")
    return "\n".join(lines)


@contextlib.contextmanager
def _profiled(profiler, recorder):
    with recorder:
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()


def profile_ours(bench, partners, top=35):
    """Process `partners` three times: timed by phase, under cProfile with the SQL census,
    and by claim batch size. Return the report text."""
    profiler = cProfile.Profile()
    recorder = QueryRecorder(bench.env.cr)
    processed, seconds, received, _cpu = _process_once(bench, partners, wrap=lambda env: _profiled(profiler, recorder))
    progress(f"profile: {processed} traces in {seconds:.1f}s under the profiler; SMTP received {received}")

    phases = PhaseTimer(bench.env)
    p_processed, p_seconds, p_received, p_cpu = _process_once(bench, partners, wrap=lambda env: phases)
    progress(f"profile: phase timing pass, {p_processed} traces in {p_seconds:.1f}s; SMTP received {p_received}")
    sweep = batch_size_sweep(bench, partners)

    out = [
        f"Phases of _process_due_traces(auto_commit=True) on {p_processed} due traces, without the profiler "
        f"({1000 * p_seconds / max(p_processed, 1):.2f} ms/trace, {1000 * p_cpu / max(p_processed, 1):.2f} ms of it "
        f"Python CPU; SMTP received {p_received}):",
        phases.table(max(p_processed, 1)),
        "",
        f"Cost per trace by claim batch size ({len(partners)} traces each):",
        sweep,
        "",
        f"Profile of _process_due_traces(auto_commit=True) on {processed} due traces "
        f"({1000 * seconds / max(processed, 1):.2f} ms/trace under the profiler, SMTP received {received})",
        "",
        "SQL statements by kind and table:",
        recorder.table(max(processed, 1)),
    ]
    for sort in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream)
        stats.strip_dirs().sort_stats(sort).print_stats(top)
        text = stream.getvalue()
        out += ["", f"cProfile, top {top} by {sort}:", text[text.find("   ncalls") :].rstrip()]
    return "\n".join(out)


def profile_mass_mailing(bench, tag, count):
    """The same query census for Odoo's mass mailing, for comparison."""
    with QueryRecorder(bench.env.cr) as recorder:
        result = bench.run_mass_mailing(tag, count, label="profile mass_mailing")
    bench.clean()
    return (
        f"Mass mailing of {count} e-mails ({result['ms_per_mail']:.2f} ms/e-mail): SQL statements by kind and table:\n"
        + recorder.table(count)
    )


# (model, method) pairs of the trigger hook timed in profile_trigger.
TRIGGER_PHASES = [
    ("sale.order", "action_confirm", 0),
    ("sale.order", "_email_automation_watchers", 1),
    ("sale.order", "_email_automation_matching_value", 1),
    ("sale.order", "_email_automation_queue", 1),
    ("email.automation.enrolment", "create", 2),
]


def profile_trigger(env, trigger_bench, order_count, top=30):
    """Confirm orders without automation, then with the running scenarios, counting the SQL
    of each confirmation; with the scenarios, once more under the phase timer and once
    under cProfile (apart: cProfile inflates the phases)."""
    from fixtures import create_orders  # noqa: PLC0415

    bench = trigger_bench
    out = []
    recorders = {}
    phases = PhaseTimer(env, TRIGGER_PHASES, unit="order")
    profiler = cProfile.Profile()
    for variant, probe in (("none", None), ("scenarios", phases), ("scenarios", "cprofile")):
        orders = create_orders(env, bench.partners, bench.product, order_count + 5)
        if variant == "scenarios":
            bench.scenarios.action_start()
            env.cr.commit()
        recorder = QueryRecorder(env.cr) if probe != "cprofile" else contextlib.nullcontext()
        try:
            bench._confirm_each(orders[:5], env["sale.order"])  # warm-up, not counted
            with recorder, probe if isinstance(probe, PhaseTimer) else contextlib.nullcontext():
                if probe == "cprofile":
                    profiler.enable()
                timings = bench._confirm_each(orders[5:], env["sale.order"])
                profiler.disable()
        finally:
            if variant == "scenarios":
                bench.scenarios.action_pause()
            env["email.automation.enrolment"].search([]).unlink()
            env.cr.commit()
        if probe == "cprofile":
            continue
        recorders[variant] = recorder
        out += [
            f"Confirmations, {variant}: {order_count} orders, median {median([t[0] for t in timings]):.2f} ms "
            f"(the SQL census{' and phase timer' if probe else ''} add a little):",
            recorder.table(order_count, top=40),
            "",
        ]
        if probe:
            out += ["Phases:", probe.table(order_count), ""]
    diff = Counter(recorders["scenarios"].counts)
    diff.subtract(recorders["none"].counts)
    out.append("SQL statements added per order by the running scenarios:")
    for key, count in sorted(diff.items(), key=lambda kv: -abs(kv[1])):
        if count:
            out.append(f"  {key[:60]:<60} {count / order_count:+.2f}")
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(
        "base.py|email_automation|enrolment", top
    )
    text = stream.getvalue()
    out += [
        "",
        "cProfile of the confirmations with the scenarios, the hook's functions:",
        text[text.find("   ncalls") :].rstrip(),
    ]
    return "\n".join(out)
