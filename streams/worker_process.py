"""A real ``fillrate worker`` as a child process: start it, wait until it is ready, read its
/health and /metrics, stop it.

The demo runs its worker this way, and so do the integration tests and the benchmarks: what
they exercise is exactly what ``fillrate worker`` runs. The child gets its settings as
``FILLRATE_*`` environment variables (every setting that is set; none inherited from this
process's environment) and writes its log to a file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from streams.settings import ENV_PREFIX, Settings

__all__ = [
    "Health",
    "MetricSample",
    "Metrics",
    "WorkerExited",
    "WorkerNotReady",
    "WorkerProcess",
    "parse_metrics",
    "worker_environment",
]

Health = dict[str, Any]
"""The JSON body of a worker's /health."""


class WorkerExited(RuntimeError):
    """The worker process ended while it was expected to run."""


class WorkerNotReady(TimeoutError):
    """The worker did not report ready in time."""


def worker_environment(settings: Settings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) without its ``FILLRATE_*`` variables,
    plus one for every setting of ``settings`` that is not None.

    >>> env = worker_environment(Settings(top_k=3), base={"PATH": "/bin", "FILLRATE_TOP_K": "9"})
    >>> env["PATH"], env["FILLRATE_TOP_K"], "FILLRATE_BROKER" in env
    ('/bin', '3', False)
    """
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith(ENV_PREFIX)}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if value is not None:
            env[ENV_PREFIX + f.name.upper()] = str(value)
    return env


@dataclass(frozen=True, slots=True)
class MetricSample:
    name: str
    labels: dict[str, str]
    value: float


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[MetricSample]:
    """The samples of a Prometheus text exposition (comments and unreadable lines skipped).

    >>> parse_metrics('# HELP x\\nfillrate_up 1.0\\nfillrate_in_total{topic="a"} 3.0\\n')
    [MetricSample(name='fillrate_up', labels={}, value=1.0), \
MetricSample(name='fillrate_in_total', labels={'topic': 'a'}, value=3.0)]
    """
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, _, raw = line.rpartition(" ")
        name, _, labels = sample.partition("{")
        try:
            value = float(raw)
        except ValueError:
            continue
        samples.append(MetricSample(name, dict(_LABEL.findall(labels)), value))
    return samples


class Metrics(list[MetricSample]):
    """One reading of /metrics."""

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` that carry ``labels`` (0 if none)."""
        return sum(
            s.value
            for s in self
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def totals(self, prefix: str = "fillrate_") -> dict[str, float]:
        """Every metric named ``prefix...``, its samples summed over their labels."""
        out: dict[str, float] = {}
        for s in self:
            if s.name.startswith(prefix):
                out[s.name] = out.get(s.name, 0.0) + s.value
        return out


class WorkerProcess:
    """One ``fillrate worker`` child process with ``settings``, logging to ``log_path``.

    Not started until :meth:`start` (or ``with``, which also stops it). ``cwd``: the child's
    working directory; ``new_session``: start it in its own session, so a Ctrl-C in the
    terminal reaches only this process, which then stops the worker itself.
    """

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        cwd: Path | None = None,
        new_session: bool = False,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.cwd = cwd
        self.new_session = new_session
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.web_port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the child process (once: while it runs, this returns at once)."""
        if self.alive():
            return self
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=worker_environment(self.settings),
                cwd=self.cwd,
                start_new_session=self.new_session,
            )
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        """Raise :class:`WorkerExited` (with the end of its log) unless it is running."""
        if not self.alive():
            raise WorkerExited(f"the worker exited; see {self.log_path}:\n{self.log_tail()}")

    # -- readiness -----------------------------------------------------------------------------
    def is_ready(self, until: Callable[[Health], bool] | None = None) -> bool:
        """Does /ready say ok (and ``until`` of its body, if given)? Raises
        :class:`WorkerExited`."""
        self.check_alive()
        health = self.health(path="/ready")
        return bool(health and health.get("status") == "ok" and (until is None or until(health)))

    def wait_ready(
        self,
        timeout: float = 60.0,
        until: Callable[[Health], bool] | None = None,
        poll: float = 0.2,
    ) -> None:
        """Block until :meth:`is_ready`; :class:`WorkerExited` or :class:`WorkerNotReady`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_ready(until):
                return
            time.sleep(poll)
        raise WorkerNotReady(
            f"the worker was not ready within {timeout:g}s; see {self.log_path}:\n"
            + self.log_tail()
        )

    # -- what it reports -----------------------------------------------------------------------
    def health(self, timeout: float = 1.0, path: str = "/health") -> Health | None:
        """/health (its JSON body also while starting, with status 503); None if no answer.
        ``path="/ready"``: the same without the model's digests, cheap for the worker."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        except OSError:
            return None
        try:
            health: Health = json.loads(body)
        except ValueError:
            return None
        return health

    def metrics(self, timeout: float = 2.0, names: Sequence[str] = ()) -> Metrics:
        """One reading of /metrics (only the series ``names``, if given: a cheap poll);
        raises ``OSError`` if the worker does not answer."""
        query = "?" + urllib.parse.urlencode([("name[]", n) for n in names]) if names else ""
        url = self.base_url + "/metrics" + query
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return Metrics(parse_metrics(response.read().decode()))

    def metric(self, name: str, **labels: str) -> float:
        """The value of one metric on /metrics, summed over samples with ``labels`` (0 if
        absent); raises ``OSError`` if the worker does not answer."""
        return self.metrics().value(name, **labels)

    def rss(self) -> int:
        """The worker process's resident memory, bytes (Linux)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log()[-chars:]
