"""Measurements only the benchmarks take (imported by them; not a benchmark itself)."""
from __future__ import annotations

import os
import resource
from pathlib import Path


def server_cpu(postmaster_pid: int | None) -> float:
    """CPU seconds used so far by a PostgreSQL server: the postmaster, its live children and the children it reaped."""
    if not postmaster_pid:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster_pid:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster_pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def client_cpu() -> float:
    """CPU seconds used so far by this process and the children it reaped."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
