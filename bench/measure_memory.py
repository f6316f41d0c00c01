"""Section 4: peak memory of a worker process processing N due traces (bench/worker.py)."""

import json
import subprocess
import sys

from odoo_env import BENCH_DIR
from report import progress


def run_worker(setup):
    """Run the worker on the bench database; return its JSON report."""
    cmd = [sys.executable, str(BENCH_DIR / "worker.py"), *setup.worker_args()]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - our own script
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        sys.stderr.write(result.stderr[-5000:])
        raise RuntimeError(f"the worker failed (exit {result.returncode})")
    return json.loads(lines[-1])


def measure_memory(bench, setup, partners, sizes, runs):
    """For each N in `sizes`: enrol N contacts, let a fresh worker process send them all."""
    results = {n: [] for n in sizes}
    for run in range(runs):
        for n in sizes:
            bench.clean()
            bench.scenario._enrol(partners[:n].ids)
            bench.env.cr.commit()
            report = run_worker(setup)
            received = bench.sink.count()[0]
            report["received"] = received
            report["ok"] = report["processed"] == n and received == n
            results[n].append(report)
            progress(
                f"section 4 run {run + 1} N={n}: worker processed {report['processed']} in {report['seconds']:.1f}s, "
                f"RSS before {report['before']['rss'] / 1024:.0f} MB, peak {report['after']['hwm'] / 1024:.0f} MB; "
                f"SMTP received {received}" + ("" if report["ok"] else "  <-- MISMATCH")
            )
    bench.clean()
    return results
