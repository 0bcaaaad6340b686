"""GraphQL of the response domain: work orders and rule review figures (``_work_orders``),
shift handovers (``_handovers``). The API merges the Query and Mutation classes below."""

from __future__ import annotations

from backend.response.schema._handovers import HandoversMutation, HandoversQuery, HandoverType
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
    "WorkOrderStatusEnum",
    "WorkOrderType",
    "WorkOrdersMutation",
    "WorkOrdersQuery",
]
