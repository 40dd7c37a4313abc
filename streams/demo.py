"""``fillrate demo``: the embedded broker, one worker and the simulator, with live progress.

The worker runs as a child process (exactly what ``fillrate worker`` runs) so the demo shows
the real thing; its log goes to a file whose path is printed. Everything stops after
``--duration`` seconds or on Ctrl-C, and the demo ends with a summary of how acceptance moved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from online_learning.offline.populations import POPULATIONS
from streams.embedded_broker import BrokerError, EmbeddedBroker, free_port
from streams.settings import Settings
from streams.simulate import SimulationDriver, Window, install_stop, sim_config

__all__ = ["run_demo"]


def fetch_json(url: str, timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:  # 503 while starting still has a JSON body
        try:
            return json.loads(exc.read())  # type: ignore[no-any-return]
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def fetch_metrics(url: str) -> dict[str, float]:
    """Unlabelled and summed samples of the worker's /metrics, by metric name."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("fillrate_"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        with contextlib.suppress(ValueError):
            values[name] = values.get(name, 0.0) + float(value)
    return values


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "streams.cli",
        "worker",
        "--broker",
        str(settings.broker),
        "--web-port",
        str(settings.web_port),
        "--partitions",
        str(settings.partitions),
        "--top-k",
        str(settings.top_k),
        "--log-level",
        settings.log_level,
    ]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_worker(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="fillrate-demo-"))
    web_port = (
        settings.web_port
        if os.environ.get("FILLRATE_WEB_PORT") or (getattr(args, "web_port", None))
        else free_port()
    )
    print("fillrate demo: starting the embedded Tansu broker ...", flush=True)
    try:
        broker = EmbeddedBroker(log_path=workdir / "tansu.log").start()
    except BrokerError as exc:
        print(f"fillrate demo: {exc}", file=sys.stderr)
        return 2
    settings = Settings.load(
        {
            "broker": broker.url,
            "web_port": web_port,
            "partitions": settings.partitions,
            "top_k": settings.top_k,
            "log_level": settings.log_level,
        },
        environ={},
    )
    health_url = f"http://127.0.0.1:{web_port}/health"
    metrics_url = f"http://127.0.0.1:{web_port}/metrics"
    worker_log = workdir / "worker.log"
    print(f"  broker  {broker.url} (memory only)", flush=True)
    worker = start_worker(settings, worker_log)
    print(f"  worker  pid {worker.pid}, log {worker_log}", flush=True)
    try:
        return asyncio.run(_demo(settings, args, worker, health_url, metrics_url))
    finally:
        stop_worker(worker)
        broker.stop()
        print(f"fillrate demo: stopped (logs in {workdir})", flush=True)


async def _demo(
    settings: Settings,
    args: argparse.Namespace,
    worker: subprocess.Popen[bytes],
    health_url: str,
    metrics_url: str,
) -> int:
    stop = asyncio.Event()
    install_stop(stop)
    built = time.monotonic()
    driver = await asyncio.to_thread(
        SimulationDriver, settings, sim_config(args), speed=args.speed, compare_prior=True
    )
    print(
        f"  prior   shadow engine that never learns, to compare offers with"
        f" (built in {time.monotonic() - built:.1f}s)",
        flush=True,
    )
    await driver.start()
    try:
        n = await driver.publish_catalog()
        print(f"  catalog {n:,} real Instacart items published", flush=True)
        people = POPULATIONS[args.population]
        print(f"  customers {people.name!r} population: {people.description}", flush=True)
        started = time.monotonic()
        while not stop.is_set():
            health = await asyncio.to_thread(fetch_json, health_url)
            if health and health.get("status") == "ok" and health.get("catalog_items", 0) >= n:
                break
            if worker.poll() is not None:
                print(
                    "fillrate demo: the worker exited while starting; see its log", file=sys.stderr
                )
                return 1
            if time.monotonic() - started > 90:
                print("fillrate demo: the worker was not ready within 90 s", file=sys.stderr)
                return 1
            await asyncio.sleep(0.5)
        print(
            f"  worker  ready, catalog loaded in {time.monotonic() - started:.1f}s;"
            f" metrics {metrics_url}",
            flush=True,
        )
        print(f"running for {args.duration:g}s (Ctrl-C stops) ...", flush=True)
        latest: dict[str, float] = {}

        def worker_status() -> str:
            dead = latest.get("fillrate_dead_letters_total", 0.0)
            loss = latest.get("fillrate_model_log_loss")
            prior = latest.get("fillrate_prior_log_loss")
            if loss is None or loss != loss or prior is None:  # NaN before the first feedback
                return f"dead letters {dead:,.0f}"
            return f"dead letters {dead:,.0f}  log loss {loss:.3f} (prior alone {prior:.3f})"

        async def poll_metrics() -> None:
            while True:
                latest.update(await asyncio.to_thread(fetch_metrics, metrics_url))
                await asyncio.sleep(1.0)

        poller = asyncio.create_task(poll_metrics())
        try:
            stats = await driver.run(args.duration, stop, extra_status=worker_status)
        finally:
            poller.cancel()
        await asyncio.sleep(1.0)  # let the worker publish what the last feedback caused
        final = await asyncio.to_thread(fetch_metrics, metrics_url)
        print(summary(stats.windows, driver.sim.stats(), stats.rankings, final), flush=True)
        return 0 if worker.poll() is None else 1
    finally:
        await driver.stop()


def summary(
    windows: list[Window],
    sim: dict[str, float],
    rankings: int,
    metrics: dict[str, float] | None = None,
) -> str:
    """Acceptance in each third of the run: realised, and the true acceptance of the worker's
    offers against the prior shadow's on the same requests (did learning help, and more as it
    went on?); then the learned model against the prior on progressive log loss.

    >>> w = [Window(2.0 * i, 100, 60, 90, 54.0 + i, 54.0) for i in range(6)]
    >>> print(summary(w, {"perfect_order_fill_rate": 0.77}, 1234))  # doctest: +NORMALIZE_WHITESPACE
    <BLANKLINE>
    summary
      rankings received        1,234
      substitutes offered      600
      perfect-order fill rate  77.0%
                               realised          expected (true P)  learned   prior     lift
      first third              60.0% of 200      of 180              0.6056  0.6000  +0.0056
      middle third             60.0% of 200      of 180              0.6278  0.6000  +0.0278
      last third               60.0% of 200      of 180              0.6500  0.6000  +0.0500
      realised: outcomes of the substitutes offered (coin flips, and whatever requests came in);
      expected: the simulator's true P(accept) of the worker's offer and of what the content prior
      alone would have offered, on the same requests: lift is what learning has added.
    """
    lines = ["", "summary"]
    offered = sum(w.offered for w in windows)
    if offered == 0:
        lines.append("  no substitutes were offered (was the worker publishing rankings?)")
        return "\n".join(lines)
    lines.append(f"  rankings received        {rankings:,}")
    lines.append(f"  substitutes offered      {offered:,}")
    fill = sim.get("perfect_order_fill_rate")
    if fill is not None:
        lines.append(f"  perfect-order fill rate  {fill:.1%}")
    active = [w for w in windows if w.offered]  # from the first offer on (not the warm-up)
    n = len(active)
    thirds = [active[: n // 3], active[n // 3 : 2 * n // 3], active[2 * n // 3 :]]
    lines.append(
        f"  {'':<23}  {'realised':<16}  {'expected (true P)':<17}  {'learned':>7}  "
        f"{'prior':>6}  {'lift':>7}"
    )
    for name, ws in zip(("first", "middle", "last"), thirds, strict=True):
        shown, accepted = sum(w.offered for w in ws), sum(w.accepted for w in ws)
        paired = sum(w.paired for w in ws)
        realised = f"{accepted / shown:.1%} of {shown:,}" if shown else "-"
        row = f"  {name + ' third':<23}  {realised:<16}"
        if paired:
            learned = sum(w.learned for w in ws) / paired
            prior = sum(w.prior for w in ws) / paired
            row += f"  {'of ' + format(paired, ','):<17}  {learned:>7.4f}  {prior:>6.4f}"
            row += f"  {learned - prior:>+7.4f}"
        lines.append(row)
    metrics = metrics or {}
    loss, prior_loss = (
        metrics.get("fillrate_model_log_loss"),
        metrics.get("fillrate_prior_log_loss"),
    )
    if loss is not None and prior_loss is not None and loss == loss:
        lines.append(
            f"  log loss of p_accept     {loss:.3f} learned vs {prior_loss:.3f} for the prior"
            " alone (progressive: each event scored before it is learned)"
        )
    lines.append(
        "  realised: outcomes of the substitutes offered (coin flips, and whatever requests came"
        " in);\n  expected: the simulator's true P(accept) of the worker's offer and of what the"
        " content prior\n  alone would have offered, on the same requests: lift is what learning"
        " has added."
    )
    return "\n".join(lines)
