"""The event contract works from an installed wheel, not only from this source tree.

The wheel is built from a copy of the sources and installed into a fresh virtualenv (no system
site-packages, no dependency but orjson); a child Python started outside the repository then
imports ``schemas`` and ``online_learning.contract``, loads every schema and decodes each
schema's examples. Everything it imports must come from that virtualenv's site-packages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import schemas

ROOT = Path(__file__).resolve().parent.parent
# What pyproject's [tool.setuptools] packages and its metadata need; nothing else is copied.
SOURCES = ("pyproject.toml", "README.md", "schemas", "online_learning", "streams")

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


def test_the_installed_wheel_carries_the_contract_and_its_schemas(tmp_path: Path) -> None:
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
    (wheel,) = wheels.glob("fillrate-*.whl")

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
    assert len(report["names"]) == 5
    records = {
        "catalog.items": "Product",
        "inventory.signals": "InventorySignal",
        "substitutions.feedback": "Feedback",
        "substitutions.rankings": "Ranking",
    }
    assert report["decoded"] == {
        name: [record] * len(schemas.load(name)["examples"]) for name, record in records.items()
    }
    site_packages = (env / "lib").resolve()
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(site_packages), file
    assert not any(Path(p).resolve() == ROOT for p in report["path"] if p)
