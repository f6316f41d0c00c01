"""Figures and their presentation: medians, progress lines, the final table."""

import os
import statistics
import sys
import time

_STARTED = time.monotonic()
_LOADS = []  # the load average at each progress line


def load_average():
    """The 1-minute load average (NaN where the system does not tell)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def progress(message):
    """A timestamped progress line on stderr (the figures go to stdout), with the machine's
    load: the figures are only as steady as the machine is quiet."""
    elapsed = time.monotonic() - _STARTED
    load = load_average()
    _LOADS.append(load)
    sys.stderr.write(f"[bench {elapsed:7.1f}s load {load:4.1f}] {message}\n")
    sys.stderr.flush()


def load_summary():
    """How busy the machine was while the benchmark ran."""
    loads = [x for x in _LOADS if x == x]
    if not loads:
        return "load average unknown"
    return (
        f"1-min load average during the run: min {min(loads):.1f}, median {median(loads):.1f}, "
        f"max {max(loads):.1f} on {os.cpu_count()} CPU(s)"
    )


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_runs(values, unit="", digits=2):
    return ", ".join(f"{v:.{digits}f}{unit}" for v in values)


class Table:
    """Rows of (figure, value, target, verdict) printed as an aligned table."""

    def __init__(self, title):
        self.title = title
        self.rows = []

    def section(self, name):
        self.rows.append(("section", name))

    def add(self, figure, value, target="", verdict=""):
        self.rows.append(("row", (figure, value, target, verdict)))

    def note(self, text):
        self.rows.append(("note", text))

    def render(self):
        data = [r for kind, r in self.rows if kind == "row"]
        widths = [
            max([len(h)] + [len(str(r[i])) for r in data]) for i, h in enumerate(("Figure", "Value", "Target", ""))
        ]
        line = "-" * (sum(widths) + 9)
        out = [self.title, "=" * len(self.title), ""]
        out.append(f"{'Figure':<{widths[0]}} | {'Value':>{widths[1]}} | {'Target':<{widths[2]}} | ")
        out.append(line)
        for kind, row in self.rows:
            if kind == "section":
                out.append(f"{row}")
            elif kind == "note":
                out.append(f"    {row}")
            else:
                figure, value, target, verdict = row
                out.append(f"{figure:<{widths[0]}} | {value:>{widths[1]}} | {target:<{widths[2]}} | {verdict}")
        out.append(line)
        return "\n".join(out)


def verdict(value, limit):
    """PASS when `value` is at most `limit`."""
    if value != value:  # NaN: not measured
        return "n/a"
    return "PASS" if value <= limit else "FAIL"
