"""Work orders in progress: OPEN → IN_PROGRESS → DONE → VERIFIED (or CANCELLED), the
checklist ticked off, comments with photos. Each change is audited and on the timeline."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.clock import WALL_CLOCK, Clock
from backend.core.errors import BadInput
from backend.response.models import MAX_NOTE, WorkOrder, WorkOrderEvent, WorkOrderStatus
from backend.response.service._common import actor_id, optional_text, required_text
from backend.response.service._work_orders import (
    EDITABLE,
    MAX_PHOTOS,
    OBJECT,
    TRANSITIONS,
    authorised,
    photo_key_pattern,
    timeline_entry,
)
from privacy.audit import record_change


async def set_work_order_status(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    work_order_id: uuid.UUID,
    status: WorkOrderStatus,
    note: str | None = None,
    clock: Clock = WALL_CLOCK,
) -> WorkOrder:
    order, domain = await authorised(session, authz, principal, work_order_id, "update")
    if status is WorkOrderStatus.VERIFIED:
        # Verifying is the safety manager's (or the owner's) sign-off, not the doer's.
        require(authz, principal, domain, OBJECT, "verify", operation="verify work orders")
    current = order.status
    if status not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        where = f"only to {', '.join(allowed)}" if allowed else "nowhere: it is final"
        raise BadInput(
            f"a work order cannot go from {current.value} to {status.value}; "
            f"from {current.value} it may go {where}"
        )
    clean_note = optional_text(note, "note", MAX_NOTE)
    if status is WorkOrderStatus.DONE:
        open_items = [i + 1 for i, item in enumerate(order.checklist or []) if not item["done"]]
        if open_items:
            listed = ", ".join(str(i) for i in open_items)
            raise BadInput(f"the checklist is not finished: item(s) {listed} still open")
    if status is WorkOrderStatus.CANCELLED and clean_note is None:
        raise BadInput("cancelling a work order needs a note saying why")
    now = clock.now()
    order.status = status
    order.updated_at = now
    detail = {"from": current.value, "to": status.value}
    session.add(timeline_entry(order, principal, "STATUS", now, note=clean_note, detail=detail))
    await record_change(
        session,
        principal.actor(domain),
        "work_order.status",
        domain=domain,
        object_type=OBJECT,
        object_id=order.id,
        detail=detail,
    )
    return order


async def check_work_order_item(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    work_order_id: uuid.UUID,
    index: int,
    done: bool,
    clock: Clock = WALL_CLOCK,
) -> WorkOrder:
    order, domain = await authorised(session, authz, principal, work_order_id, "update")
    if order.status not in EDITABLE:
        raise BadInput(f"the checklist of a {order.status.value} work order cannot be changed")
    items = [dict(item) for item in order.checklist or []]
    if not 0 <= index < len(items):
        raise BadInput(
            f"the checklist has no item {index}; its items are numbered 0 to {len(items) - 1}"
            if items
            else "the work order has no checklist"
        )
    if items[index]["done"] == done:
        return order
    now = clock.now()
    items[index] = {
        **items[index],
        "done": done,
        "done_by": actor_id(principal) if done else None,
        "done_at": now.isoformat() if done else None,
    }
    order.checklist = items  # a new list: the JSON column sees the change
    order.updated_at = now
    detail = {"index": index, "done": done}
    session.add(timeline_entry(order, principal, "CHECKED", now, detail=detail))
    await record_change(
        session,
        principal.actor(domain),
        "work_order.check",
        domain=domain,
        object_type=OBJECT,
        object_id=order.id,
        detail=detail,
    )
    return order


async def comment_work_order(
    *,
    session: AsyncSession,
    authz: Authorizer,
    principal: Principal,
    work_order_id: uuid.UUID,
    text: str,
    photos: list[str] | None = None,
    clock: Clock = WALL_CLOCK,
) -> WorkOrderEvent:
    order, domain = await authorised(session, authz, principal, work_order_id, "update")
    clean = required_text(text, "comment", MAX_NOTE)
    keys = list(photos or [])
    if len(keys) > MAX_PHOTOS:
        raise BadInput(f"a comment has at most {MAX_PHOTOS} photos")
    pattern = photo_key_pattern(order.tenant_id)
    for key in keys:
        if not pattern.match(key):
            raise BadInput(f"not a photo key of this tenant: {key!r} (upload it first)")
    if len(set(keys)) != len(keys):
        raise BadInput("a photo is attached once")
    now = clock.now()
    order.updated_at = now
    event = timeline_entry(order, principal, "COMMENTED", now, note=clean, photos=keys or None)
    await record_change(
        session,
        principal.actor(domain),
        "work_order.comment",
        added=event,
        domain=domain,
        object_type=OBJECT,
        object_id=order.id,
        detail={"photos": len(keys)},
    )
    return event
