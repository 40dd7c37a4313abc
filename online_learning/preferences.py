"""What customers said they want: each item's choice and each customer's needs, as a table.

Built from the compacted ``customers.preferences`` topic, which every worker reads whole (as it
reads the catalog), so whichever worker owns the store of an order knows its customer's
choices. Records are kept by their message key, as compaction keeps them: a tombstone removes
exactly what its key held, and a key is never parsed (ids may contain ``:``).

>>> from online_learning.contract import CustomerNeeds, ItemChoice, PreferenceTombstone
>>> table = CustomerPreferences()
>>> table.apply("c1:milk", ItemChoice("c1", "milk", "specific", ("oat",), 1.0))
>>> table.apply("c1", CustomerNeeds("c1", frozenset({"lactose_free"}), 1.0))
>>> table.choice("c1", "milk").substitute_ids, sorted(table.needs("c1"))
(('oat',), ['lactose_free'])
>>> table.apply("c1:milk", PreferenceTombstone("c1:milk"))
>>> table.choice("c1", "milk") is None, len(table)
(True, 1)
"""

from __future__ import annotations

from online_learning.contract import CustomerNeeds, ItemChoice, PreferenceTombstone

__all__ = ["CustomerPreferences"]

Preference = ItemChoice | CustomerNeeds


class CustomerPreferences:
    """Item choices by (customer, item) and needs by customer, kept by message key."""

    def __init__(self) -> None:
        self._by_key: dict[str, Preference] = {}
        self._choices: dict[tuple[str, str], ItemChoice] = {}
        self._needs: dict[str, CustomerNeeds] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def apply(self, key: str, record: Preference | PreferenceTombstone) -> None:
        """Apply one record of the topic under its message key (a tombstone removes it)."""
        old = self._by_key.pop(key, None)
        if old is not None:
            self._unindex(old)
        if isinstance(record, PreferenceTombstone):
            return
        self._by_key[key] = record
        if isinstance(record, ItemChoice):
            self._choices[(record.customer_id, record.item_id)] = record
        else:
            self._needs[record.customer_id] = record

    def choice(self, customer_id: str, item_id: str) -> ItemChoice | None:
        """The customer's choice for the item; None: best match (the default)."""
        return self._choices.get((customer_id, item_id))

    def needs(self, customer_id: str) -> frozenset[str]:
        """Tags every substitute offered to the customer must carry (empty: none)."""
        record = self._needs.get(customer_id)
        return frozenset() if record is None else record.needs

    def _unindex(self, record: Preference) -> None:
        # Only if the index still points at this record: another key may have replaced it.
        if isinstance(record, ItemChoice):
            where = (record.customer_id, record.item_id)
            if self._choices.get(where) is record:
                del self._choices[where]
        elif self._needs.get(record.customer_id) is record:
            del self._needs[record.customer_id]
