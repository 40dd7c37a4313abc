"""CPU time of another process (the broker, a worker), read from /proc, for the benchmarks
that say who was busy."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

__all__ = [
    "CpuTrace",
    "cpu_seconds",
    "machine_busy_seconds",
    "pin_process",
    "run_queue_seconds",
    "split_cores",
]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of process ``pid`` so far (0 if it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int | None) -> float:
    """How long the main thread of ``pid`` has waited, runnable, for a core so far: the
    scheduler's run-queue time (/proc/<pid>/schedstat, in ns; 0 if unknown). A thread that
    waits there is delayed by whatever else the machine runs, not by its own work."""
    if pid is None:
        return 0.0
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def split_cores() -> tuple[set[int], set[int]] | None:
    """(a core for a worker of its own, the cores left for everything else) of the cores this
    process may use; None with fewer than two."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[-1]}, set(cores[:-1])


def pin_process(pid: int, cores: set[int]) -> None:
    """Let every thread of process ``pid`` run only on ``cores`` (threads it starts later
    inherit the core set of the thread that starts them)."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # the process has ended: nothing to pin
        return
    for task in tasks:
        try:
            os.sched_setaffinity(int(task.name), cores)
        except (ProcessLookupError, FileNotFoundError):  # a thread that just ended
            continue


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
