"""Measurements only the benchmarks take (imported by them; not a benchmark itself): CPU seconds, peak memory."""
from __future__ import annotations

import os
import resource
import threading
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


def peak_rss_kb(pid: int | str = "self") -> int:
    """A process's resident-set high-water mark so far (``VmHWM``, kB); 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """The process ids below ``pid`` (children of every thread, recursively), as Linux lists them now."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            todo.extend(children)
    return found


class DescendantPeaks(threading.Thread):
    """Sample, every ``interval`` seconds, the RSS high-water mark of each process below ``pid``, kept per
    command name (``pg_restore``, ``psql``): the largest seen.

    ``VmHWM`` only grows, so a sample misses only what a process added in its last ``interval`` before it
    exited; the exact peak of the largest child is what its parent's ``RUSAGE_CHILDREN`` reports."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True, name="descendant-peaks")
        self.pid, self.interval = pid, interval
        self.peaks: dict[str, int] = {}
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            for child in descendants(self.pid):
                try:
                    name = Path(f"/proc/{child}/comm").read_text().strip()
                except OSError:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0), peak_rss_kb(child))

    def stop(self) -> dict[str, int]:
        """Stop sampling; command name -> peak kB."""
        self._done.set()
        self.join()
        return dict(self.peaks)
