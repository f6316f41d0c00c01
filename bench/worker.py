"""The processing worker of section 4, run as its own process by the benchmark.

It opens the bench database like an Odoo worker would, processes every due trace with
``_process_due_traces(auto_commit=True)`` and prints one JSON line: how many traces, how
long, and its memory (VmRSS/VmHWM from /proc/self/status, ru_maxrss as a fallback).
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_env import OdooSetup, superuser_env


def memory_kb():
    """{'rss': current, 'hwm': peak} resident memory of this process, in kB."""
    values = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                key, _sep, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key[2:].lower()] = int(rest.split()[0])
    except OSError:
        pass
    if "hwm" not in values:  # no /proc: the peak is all we get (kB on Linux, bytes on macOS)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        values = {"rss": peak, "hwm": peak}
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--odoo-dir", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--addons-dir", required=True)
    parser.add_argument("--extra-addons", action="append", default=[])
    parser.add_argument("--odoo-option", action="append", default=[])
    args = parser.parse_args()

    setup = OdooSetup(
        args.odoo_dir, args.db, db_options=args.odoo_option, extra_addons=args.extra_addons, addons_dir=args.addons_dir
    )
    odoo = setup.load_config()
    odoo.netsvc.init_logger()
    registry = setup.registry()
    with superuser_env(registry) as env:
        env["email.automation.trace"].search_count([])  # touch the queue once, as a worker's first call would
        before = memory_kb()
        started = time.perf_counter()
        processed = env["email.automation.queue"]._process_due_traces(auto_commit=True)
        seconds = time.perf_counter() - started
        after = memory_kb()
    print(json.dumps({"processed": processed, "seconds": seconds, "before": before, "after": after}), flush=True)


if __name__ == "__main__":
    main()
