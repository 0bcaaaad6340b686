"""GraphQL of the response domain: work orders (``_work_orders``), shift handovers
(``_handovers``), the rules' review figures (``_reviews``). The API merges the Query and
Mutation classes below."""

from __future__ import annotations

from backend.response.schema._handovers import HandoversMutation, HandoversQuery, HandoverType
from backend.response.schema._reviews import ReviewsQuery
from backend.response.schema._work_orders import (
    WorkOrdersMutation,
    WorkOrdersQuery,
    WorkOrderStatusEnum,
    WorkOrderType,
)

__all__ = [
    "HandoverType",
    "HandoversMutation",
    "HandoversQuery",
    "ReviewsQuery",
    "WorkOrderStatusEnum",
    "WorkOrderType",
    "WorkOrdersMutation",
    "WorkOrdersQuery",
]
