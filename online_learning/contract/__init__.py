"""The event contract v1: records and codecs for every topic, in one place (no Kafka here).

- :mod:`~online_learning.contract.records`: topic names, vocabularies, input records, EventError
- :mod:`~online_learning.contract.decode` / :mod:`~online_learning.contract.encode`: the input
  topics (``catalog.items``, ``inventory.signals``, ``substitutions.feedback``,
  ``orders.completed``, ``customers.preferences``, ``substitutions.requests``)
- :mod:`~online_learning.contract.rankings`: ``substitutions.rankings``, both ways
- :mod:`~online_learning.contract.replies`: ``substitutions.replies``, both ways
- :mod:`~online_learning.contract.deadletter`: ``substitutions.deadletter``
- :mod:`~online_learning.contract.changelog`: the worker's state changelog records
- :mod:`~online_learning.contract.demand`: the demand summaries workers add to the learning log

The payloads are described by the JSON Schemas of the ``schemas`` package (:func:`load_schema`).
"""

from online_learning.contract.changelog import decode_entry, encode_availability, encode_live
from online_learning.contract.deadletter import DEAD_LETTER_MAX_PAYLOAD, dead_letter_payload
from online_learning.contract.decode import (
    decode_catalog,
    decode_feedback,
    decode_order,
    decode_preference,
    decode_request,
    decode_signal,
)
from online_learning.contract.demand import (
    DEMAND_KEY,
    DemandSummary,
    decode_demand,
    encode_demand,
    is_demand_record,
)
from online_learning.contract.encode import (
    encode_event,
    encode_order,
    encode_preference,
    encode_product,
    encode_request,
    event_payload,
    order_payload,
    preference_payload,
    product_payload,
    request_payload,
)
from online_learning.contract.fields import COMMENT_MAX, log_safe
from online_learning.contract.rankings import Ranking, Substitute, decode_ranking, ranking_payload
from online_learning.contract.records import (
    CATALOG_TOPIC,
    CHOICES,
    FEEDBACK_TOPIC,
    LINE_OUTCOMES,
    ORDERS_TOPIC,
    OUTCOMES,
    PREFERENCES_TOPIC,
    RANKINGS_TOPIC,
    REASONS,
    REPLIES_TOPIC,
    REQUESTS_TOPIC,
    SIGNALS,
    SIGNALS_TOPIC,
    CatalogTombstone,
    CompletedOrder,
    CustomerNeeds,
    EventError,
    Feedback,
    InventorySignal,
    ItemChoice,
    OrderLine,
    PreferenceTombstone,
    Product,
    SubstitutionRequest,
    load_schema,
    preference_key,
)
from online_learning.contract.replies import (
    CUSTOMER_DECLINED,
    SUBSTITUTE_SOURCES,
    Reply,
    ReplySubstitute,
    decode_reply,
    reply_payload,
)

__all__ = [
    "CATALOG_TOPIC",
    "CHOICES",
    "COMMENT_MAX",
    "CUSTOMER_DECLINED",
    "DEAD_LETTER_MAX_PAYLOAD",
    "DEMAND_KEY",
    "FEEDBACK_TOPIC",
    "LINE_OUTCOMES",
    "ORDERS_TOPIC",
    "OUTCOMES",
    "PREFERENCES_TOPIC",
    "RANKINGS_TOPIC",
    "REASONS",
    "REPLIES_TOPIC",
    "REQUESTS_TOPIC",
    "SIGNALS",
    "SIGNALS_TOPIC",
    "SUBSTITUTE_SOURCES",
    "CatalogTombstone",
    "CompletedOrder",
    "CustomerNeeds",
    "DemandSummary",
    "EventError",
    "Feedback",
    "InventorySignal",
    "ItemChoice",
    "OrderLine",
    "PreferenceTombstone",
    "Product",
    "Ranking",
    "Reply",
    "ReplySubstitute",
    "Substitute",
    "SubstitutionRequest",
    "dead_letter_payload",
    "decode_catalog",
    "decode_demand",
    "decode_entry",
    "decode_feedback",
    "decode_order",
    "decode_preference",
    "decode_ranking",
    "decode_reply",
    "decode_request",
    "decode_signal",
    "encode_availability",
    "encode_demand",
    "encode_event",
    "encode_live",
    "encode_order",
    "encode_preference",
    "encode_product",
    "encode_request",
    "event_payload",
    "is_demand_record",
    "load_schema",
    "log_safe",
    "order_payload",
    "preference_key",
    "preference_payload",
    "product_payload",
    "ranking_payload",
    "reply_payload",
    "request_payload",
]
