"""``fillrate demo``: the embedded broker, one worker and the simulator, with live progress.

The worker runs as a child process (exactly what ``fillrate worker`` runs) so the demo shows
the real thing; its log goes to a file whose path is printed. Everything stops after
``--duration`` seconds or on Ctrl-C, and the demo ends with a summary of how acceptance moved
and of the perfect-order fill rate, as the simulator counted it and as the worker's metrics
show it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from online_learning.offline.populations import POPULATIONS
from streams.embedded_broker import BrokerError, EmbeddedBroker, free_port
from streams.settings import Settings
from streams.simulate import DriverStats, SimulationDriver, Window, install_stop, sim_config
from streams.worker_process import Health, WorkerExited, WorkerProcess

__all__ = ["run_demo"]

READY_TIMEOUT_S = 90.0
ORDERS_TIMEOUT_S = 15.0  # for the worker to count the last orders published


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
    settings = demo_settings(settings, broker.url, web_port)
    print(f"  broker  {broker.url} (memory only)", flush=True)
    worker = WorkerProcess(settings, workdir / "worker.log", new_session=True).start()
    print(f"  worker  pid {worker.pid}, log {worker.log_path}", flush=True)
    try:
        return asyncio.run(_demo(settings, args, worker))
    finally:
        worker.stop()
        broker.stop()
        print(f"fillrate demo: stopped (logs in {workdir})", flush=True)


def demo_settings(given: Settings, broker_url: str, web_port: int) -> Settings:
    """The worker's settings: the demo's broker and port, and the flags the demo takes.

    Nothing of the Instacart world reaches the worker but the events: the catalog it
    publishes carries each item's order count in the real order lines as its ``popularity``.
    """
    return Settings.load(
        {
            "broker": broker_url,
            "web_port": web_port,
            "partitions": given.partitions,
            "top_k": given.top_k,
            "log_level": given.log_level,
        },
        environ={},
    )


async def _demo(settings: Settings, args: argparse.Namespace, worker: WorkerProcess) -> int:
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
        print(
            f"  catalog {n:,} real Instacart items published, with their order counts as"
            " popularity",
            flush=True,
        )
        prefs = await driver.publish_preferences()
        print(
            f"  customers' preferences {prefs:,} records: dietary needs and, for often-ordered"
            " items, their own picks or no substitute",
            flush=True,
        )
        people = POPULATIONS[args.population]
        print(f"  customers {people.name!r} population: {people.description}", flush=True)
        if not await wait_for_worker(worker, n, prefs, stop):
            return 1
        print(f"running for {args.duration:g}s (Ctrl-C stops) ...", flush=True)
        stats = await run_with_status(driver, worker, args.duration, stop)
        await asyncio.sleep(1.0)  # let the worker publish what the last feedback caused
        final = await wait_for_orders(worker, stats.orders)
        print(summary(stats.windows, driver.sim.stats(), stats.rankings, final), flush=True)
        return 0 if worker.alive() else 1
    finally:
        await driver.stop()


async def wait_for_worker(
    worker: WorkerProcess, catalog_items: int, preferences: int, stop: asyncio.Event
) -> bool:
    """Wait until the worker is ready with the whole catalog (or Ctrl-C); False, said on
    stderr, if it exits or is not ready within :data:`READY_TIMEOUT_S`."""
    started = time.monotonic()

    def loaded(health: Health) -> bool:
        return bool(health.get("catalog_items", 0) >= catalog_items)

    while not stop.is_set():
        try:
            if await asyncio.to_thread(worker.is_ready, loaded):
                break
        except WorkerExited:
            print("fillrate demo: the worker exited while starting; see its log", file=sys.stderr)
            return False
        if time.monotonic() - started > READY_TIMEOUT_S:
            print(
                f"fillrate demo: the worker was not ready within {READY_TIMEOUT_S:g} s",
                file=sys.stderr,
            )
            return False
        await asyncio.sleep(0.5)
    print(
        f"  worker  ready, catalog loaded in {time.monotonic() - started:.1f}s;"
        f" metrics {worker.base_url}/metrics",
        flush=True,
    )
    settings = worker.settings
    counts = {settings.catalog_topic: catalog_items, settings.preferences_topic: preferences}
    await wait_for_validation(worker, counts, stop)
    return True


async def wait_for_validation(
    worker: WorkerProcess, counts: dict[str, int], stop: asyncio.Event
) -> None:
    """Wait (at most :data:`READY_TIMEOUT_S`) until the worker's group has validated every
    record of the topics of ``counts`` (topic -> records published): a new consumer group
    checks the whole catalog and the customers' preferences once, and Faust hands a worker its
    messages one at a time across topics, so until then signals queue behind those records
    and the first third of the run would have no rankings to show."""
    started = time.monotonic()
    while not stop.is_set() and time.monotonic() - started < READY_TIMEOUT_S:
        try:
            metrics = await asyncio.to_thread(worker.metrics)
            done = all(
                metrics.value("fillrate_events_in_total", topic=topic) >= n
                for topic, n in counts.items()
            )
        except (OSError, ValueError):
            done = False
        if done:
            break
        await asyncio.sleep(0.25)
    print(
        f"  worker  catalog and preferences validated by its consumer group in"
        f" {time.monotonic() - started:.1f}s",
        flush=True,
    )


async def run_with_status(
    driver: SimulationDriver, worker: WorkerProcess, duration: float, stop: asyncio.Event
) -> DriverStats:
    """Run the simulation, its status lines ending with the worker's own figures (polled
    from /metrics once a second)."""
    latest: dict[str, float] = {}

    async def poll_metrics() -> None:
        while True:
            latest.update(await asyncio.to_thread(metric_totals, worker))
            await asyncio.sleep(1.0)

    poller = asyncio.create_task(poll_metrics())
    try:
        return await driver.run(duration, stop, extra_status=partial(worker_status, latest))
    finally:
        poller.cancel()


async def wait_for_orders(worker: WorkerProcess, orders: int) -> dict[str, float]:
    """The worker's metric totals once it has counted every order published (or after
    :data:`ORDERS_TIMEOUT_S`), so its fill rate is over the same orders as the simulator's."""
    deadline = time.monotonic() + ORDERS_TIMEOUT_S
    while True:
        totals = await asyncio.to_thread(metric_totals, worker)
        if totals.get("fillrate_orders_total", 0.0) >= orders or time.monotonic() > deadline:
            return totals
        await asyncio.sleep(0.25)


def metric_totals(worker: WorkerProcess) -> dict[str, float]:
    """The worker's metrics summed over their labels; empty if it does not answer."""
    try:
        return worker.metrics(timeout=1.0).totals()
    except OSError:
        return {}


def worker_status(latest: dict[str, float]) -> str:
    """The worker's part of a status line: dead letters, and log loss against the prior's.

    >>> worker_status({"fillrate_dead_letters_total": 2.0})
    'dead letters 2'
    >>> worker_status({"fillrate_model_log_loss": 0.61, "fillrate_prior_log_loss": 0.64})
    'dead letters 0  log loss 0.610 (prior alone 0.640)'
    """
    dead = latest.get("fillrate_dead_letters_total", 0.0)
    loss = latest.get("fillrate_model_log_loss")
    prior = latest.get("fillrate_prior_log_loss")
    if loss is None or loss != loss or prior is None:  # NaN before the first feedback
        return f"dead letters {dead:,.0f}"
    return f"dead letters {dead:,.0f}  log loss {loss:.3f} (prior alone {prior:.3f})"


def fill_rate_lines(sim: dict[str, float], metrics: dict[str, float]) -> list[str]:
    """The perfect-order fill rate as the simulator counted it and, when its metrics have
    orders, as the worker counted the same orders from ``orders.completed``.

    >>> sim = {"perfect_order_fill_rate": 0.75, "orders_completed": 8.0}
    >>> worker = {"fillrate_orders_total": 8.0, "fillrate_orders_perfect_total": 6.0}
    >>> for line in fill_rate_lines(sim, worker):
    ...     print(line)
      perfect-order fill rate  75.0% of 8 orders (simulator)
                               75.0% of 8 orders (worker's /metrics)
    """
    fill = sim.get("perfect_order_fill_rate")
    if fill is None:
        return []
    completed = sim.get("orders_completed")
    if completed is None:
        return [f"  perfect-order fill rate  {fill:.1%}"]
    lines = [f"  perfect-order fill rate  {fill:.1%} of {completed:,.0f} orders (simulator)"]
    orders = metrics.get("fillrate_orders_total", 0.0)
    if orders:
        perfect = metrics.get("fillrate_orders_perfect_total", 0.0)
        lines.append(
            f"  {'':<23}  {perfect / orders:.1%} of {orders:,.0f} orders (worker's /metrics)"
        )
    return lines


def personal_lines(thirds: list[list[Window]]) -> list[str]:
    """The personal replies against the store-level ranking, true acceptance on the same
    requests, in each third of the run (nothing if no request had both).

    >>> w = [Window(personal_paired=10, personal=6.5, store=6.0)]
    >>> for line in personal_lines([w, w, w]):
    ...     print(line)  # doctest: +NORMALIZE_WHITESPACE
      personal replies vs the store-level ranking (true P, same requests)
      first third              of 10              personal 0.6500  store 0.6000  +0.0500
      middle third             of 10              personal 0.6500  store 0.6000  +0.0500
      last third               of 10              personal 0.6500  store 0.6000  +0.0500
    """
    if not any(w.personal_paired for ws in thirds for w in ws):
        return []
    lines = ["  personal replies vs the store-level ranking (true P, same requests)"]
    for name, ws in zip(("first", "middle", "last"), thirds, strict=True):
        n = sum(w.personal_paired for w in ws)
        row = f"  {name + ' third':<23}  "
        if n:
            personal = sum(w.personal for w in ws) / n
            store = sum(w.store for w in ws) / n
            row += f"{'of ' + format(n, ','):<17}  personal {personal:.4f}  store {store:.4f}"
            row += f"  {personal - store:+.4f}"
        lines.append(row.rstrip())
    return lines


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
    lines.extend(fill_rate_lines(sim, metrics or {}))
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
    lines.extend(personal_lines(thirds))
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
