"""The domains roles are held in, and the checks of what a caller types."""

from __future__ import annotations

import uuid

from backend.core.errors import BadInput
from tenants.models import Industry, Site
from tenants.scope import Scope


def tenant_domain(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}"


def site_domain(scope: Scope, site: Site) -> str:
    """The domain whose role governs the caller on a site: the tenant's for its members, the
    site's division for a regulator (a province's role holds there through domain matching)."""
    if site.tenant_id in scope.tenant_ids:
        return tenant_domain(site.tenant_id)
    return f"gov:{site.division_code}"


def clean_text(value: str, field: str, max_length: int) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > max_length:
        raise BadInput(f"{field} must be 1 to {max_length} characters")
    return cleaned


def parse_industry(value: str) -> Industry:
    try:
        return Industry(value)
    except ValueError:
        choices = ", ".join(i.value for i in Industry)
        raise BadInput(f"unknown industry {value!r}; choose one of {choices}") from None
