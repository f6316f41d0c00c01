"""CPU used by processes and the machine over an interval, read from /proc (Linux)."""

import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, own CPU seconds, CPU seconds of reaped children) of `pid`, or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command: state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based.
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    reaped = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return int(fields[1]), own, reaped


def tree_cpu(root_pid):
    """CPU seconds of a process, its live descendants and the children it reaped."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := proc_stat(int(entry))):
            children.setdefault(stat[0], []).append(int(entry))
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        if stat := proc_stat(pid):
            total += stat[1] + stat[2]
            todo += children.get(pid, [])
    return total


def machine_cpu():
    """(busy, total) CPU seconds of the whole machine since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


class CpuMeter:
    """CPU used between start() and stop() by the servers, the bench database's PostgreSQL
    backends, the SMTP sink, and the whole machine (other work on it included)."""

    def __init__(self, bench, servers, sink_pid):
        self.bench, self.servers, self.sink_pid = bench, servers, sink_pid

    def sample(self):
        backends = {pid: stat[1] for pid in self.bench.backend_pids() if (stat := proc_stat(pid))}
        return {
            "odoo": sum(tree_cpu(server.pid) for server in self.servers if server.pid),
            "backends": backends,
            "sink": tree_cpu(self.sink_pid),
            "machine": machine_cpu(),
            "wall": time.monotonic(),
        }

    def start(self):
        self.before = self.sample()

    def stop(self):
        after, before = self.sample(), self.before
        wall = after["wall"] - before["wall"]
        # Backends of the run: those alive at both ends (Odoo keeps its connections).
        postgres = sum(after["backends"][pid] - before["backends"].get(pid, 0.0) for pid in after["backends"])
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        return {
            "wall": wall,
            "odoo": (after["odoo"] - before["odoo"]) / wall,
            "postgres": postgres / wall,
            "sink": (after["sink"] - before["sink"]) / wall,
            "machine": busy / wall,
            "cores": total / wall,
        }
