"""What the response operations share: who may read, text checks, the actor of a record."""

from __future__ import annotations

import uuid

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.core.errors import BadInput
from privacy.freetext import mask_personal_data
from tenants.service import tenant_domain


def readable_tenants(authz: Authorizer, principal: Principal, obj: str) -> list[uuid.UUID]:
    """The caller's own tenants whose ``obj`` its role may read. Regulators have none: their
    scope reaches a jurisdiction's sites, but work orders and handovers are the enterprise's
    own records."""
    return [
        t for t in principal.scope.tenant_ids if authz.may(principal, tenant_domain(t), obj, "read")
    ]


def actor_id(principal: Principal) -> str:
    return "system" if principal.id is None else str(principal.id)


def required_text(value: str, field: str, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise BadInput(f"{field} is required")
    if len(cleaned) > max_length:
        raise BadInput(f"{field} is at most {max_length} characters")
    return mask_personal_data(cleaned)


def optional_text(value: str | None, field: str, max_length: int) -> str | None:
    """Free text people type: identifiers in it are masked before it is stored, as the
    catalog does for alarm notes (a note names the person called and their mobile)."""
    if value is None or not value.strip():
        return None
    return required_text(value, field, max_length)


def check_page(first: int) -> None:
    if not 1 <= first <= 200:
        raise BadInput("first must be between 1 and 200")
