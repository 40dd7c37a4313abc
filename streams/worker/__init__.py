"""The Faust worker, in named parts.

``worker.py``
    :class:`Worker`: builds the engine and the parts below and wires them into one Faust app.
``app.py``
    The ``faust.App`` and the raw topics.
``agents.py``
    The group's agents (catalog validation, signals, feedback): decode, call the engine,
    hand the result to the output.
``output.py``
    Rankings, dead letters and record batches (state changelog, learning log).
``rebalance.py``
    Handlers of the group's rebalances, delegating to the store state.
``timers.py``
    Model-update re-rankings and the gauges (consumer lag).
``views.py``
    ``/metrics`` and ``/health``.
"""

from streams.worker.worker import Worker, build_engine, build_worker

__all__ = ["Worker", "build_engine", "build_worker"]
