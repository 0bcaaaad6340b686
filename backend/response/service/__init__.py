"""Response operations: the only writers of work orders, their timelines and handovers.

Work orders (``_work_orders``, moved along in ``_progress``), shift handovers
(``_handovers``), and the rules' false-positive rates from the alarms' reviews (``_reviews``).
Every operation takes the acting principal; another tenant's objects are not found, and
regulators find none of these records.
"""

from __future__ import annotations

from backend.response.service._handovers import (
    SNAPSHOT_ITEMS,
    accept_handover,
    create_handover,
    get_handover,
    list_handovers,
)
from backend.response.service._progress import (
    check_work_order_item,
    comment_work_order,
    set_work_order_status,
)
from backend.response.service._reviews import RuleReview, rule_review_stats
from backend.response.service._work_orders import (
    KEEP,
    MAX_CHECKLIST,
    MAX_ITEM,
    MAX_PHOTOS,
    TRANSITIONS,
    Assignee,
    Keep,
    create_work_order,
    get_work_order,
    list_work_orders,
    photo_key_pattern,
    timelines,
    update_work_order,
)

__all__ = [
    "KEEP",
    "MAX_CHECKLIST",
    "MAX_ITEM",
    "MAX_PHOTOS",
    "SNAPSHOT_ITEMS",
    "TRANSITIONS",
    "Assignee",
    "Keep",
    "RuleReview",
    "accept_handover",
    "check_work_order_item",
    "comment_work_order",
    "create_handover",
    "create_work_order",
    "get_handover",
    "get_work_order",
    "list_handovers",
    "list_work_orders",
    "photo_key_pattern",
    "rule_review_stats",
    "set_work_order_status",
    "timelines",
    "update_work_order",
]
