"""CPU time of another process (the broker, a worker), read from /proc, for the benchmarks
that say who was busy."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

__all__ = ["CpuTrace", "cpu_seconds", "machine_busy_seconds"]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (0 if it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of this machine has spent busy so far (everything but idle and
    I/O wait, /proc/stat): what all its processes, ours and anyone else's, used."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


class CpuTrace:
    """CPU time of one process, sampled every ``interval`` seconds by a thread.

    The benchmarks poll a worker for progress and learn its first and last event times only
    afterwards; the trace answers how much CPU it used between the two. On a shared machine
    a process's CPU time per event moves much less than its wall-clock rate, which drops
    whenever a neighbour takes the core.
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self._read: Callable[[], float] = partial(cpu_seconds, pid)
        self.samples: list[tuple[float, float]] = []  # (time.time(), CPU seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @classmethod
    def of_machine(cls, interval: float = 0.1) -> CpuTrace:
        """The same trace of the whole machine's busy time (:func:`machine_busy_seconds`)."""
        trace = cls(os.getpid(), interval)
        trace._read = machine_busy_seconds
        return trace

    def __enter__(self) -> CpuTrace:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._read()))
            self._stop.wait(self.interval)

    def used(self, start: float, end: float) -> float:
        """CPU seconds between the samples nearest ``start`` and ``end`` (0 if none)."""
        inside = [cpu for t, cpu in self.samples if start - self.interval <= t <= end]
        return inside[-1] - inside[0] if len(inside) >= 2 else 0.0
