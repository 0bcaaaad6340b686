"""The privacy pipeline on the GraphQL layer: every field leaves through the catalog.

For each resolved field the schema extension looks up the field's declaration in the
classification catalog (privacy/catalog.yaml), works out the viewer's audience for the object
the field belongs to — the viewer's enterprise role in the object's tenant, ``government`` for
a regulator, ``platform`` for the platform administrator — and applies that audience's
treatment (show, mask, pseudonymize, generalize, suppress). Resolvers return plain values and
cannot forget it. Reads of personal and sensitive fields are collected during the operation
and written to the audit trail at its end: one entry per tenant and type, naming the fields.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from inspect import isawaitable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions import SchemaExtension

from backend.auth.principal import Principal
from backend.core.errors import ScopeRequired
from privacy.audit import record_read
from privacy.catalog import ENTERPRISE_AUDIENCES, Policy, Treatment, apply, catalog
from tenants.service import tenant_domain

PURPOSE = {"government": "government.supervision", "platform": "platform.operations"}


def audience(principal: Principal, tenant_id: uuid.UUID | None) -> str:
    """Which audience ``principal`` is for data of ``tenant_id`` (None: not tenant data)."""
    if principal.kind == "system":
        return "owner"
    if tenant_id is not None:
        role = principal.role_in(tenant_domain(tenant_id))
        if role in ENTERPRISE_AUDIENCES:
            return role
    elif principal.scope.tenant_ids:  # not tenant data: the viewer's own enterprise role
        roles = [g.role for g in principal.grants if g.role in ENTERPRISE_AUDIENCES]
        if roles:
            return roles[0]
    if principal.scope.jurisdictions:
        return "government"
    if any(g.role == "platform_admin" for g in principal.grants):
        return "platform"
    return "public"


def owning_tenant(root: Any) -> uuid.UUID | None:
    """The tenant an object belongs to: its ``tenant_id`` (private or public field), or the
    tenant of its ``domain`` (an invitation)."""
    value = getattr(root, "tenant_id", None)
    if value is None:
        domain = getattr(root, "domain", None)
        if isinstance(domain, str) and domain.startswith("tenant:"):
            value = domain.removeprefix("tenant:")
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


_SCALARS = (str, int, float, bool, datetime, enum.Enum)


def _leaf(value: Any) -> bool:
    if isinstance(value, list):
        return all(_leaf(v) for v in value)
    return value is None or isinstance(value, _SCALARS)


class PrivacyPipeline(SchemaExtension):
    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context)  # type: ignore[call-arg]
        # (tenant, audience, type) → fields read and how many objects.
        self._reads: dict[tuple[uuid.UUID | None, str, str], tuple[set[str], set[str]]] = (
            defaultdict(lambda: (set(), set()))
        )
        self._keys: dict[uuid.UUID, bytes] = {}

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        if self._reads:
            await self._audit()

    def resolve(
        self,
        _next: Callable[..., Any],
        root: Any,
        info: GraphQLResolveInfo,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        result = _next(root, info, *args, **kwargs)
        policy = catalog().graphql_field(info.parent_type.name, info.field_name)
        if policy is None or policy.always_shown:
            return result
        if isawaitable(result):
            return self._treat_later(result, policy, root, info)
        return self._treat(result, policy, root, info)

    async def _treat_later(
        self, pending: Any, policy: Policy, root: Any, info: GraphQLResolveInfo
    ) -> Any:
        return self._treat(await pending, policy, root, info)

    def _treat(self, value: Any, policy: Policy, root: Any, info: GraphQLResolveInfo) -> Any:
        if not _leaf(value):
            return value  # an object: its own fields are classified and treated
        principal: Principal = info.context.principal
        if principal.id is not None and str(getattr(root, "id", "")) == str(principal.id):
            return value  # the viewer's own account: people see their own data as it is
        tenant = owning_tenant(root)
        viewer = audience(principal, tenant)
        treatment = policy.treatment(viewer)
        if policy.personal and value is not None and treatment is not Treatment.SUPPRESS:
            fields, objects = self._reads[(tenant, viewer, info.parent_type.name)]
            fields.add(info.field_name)
            objects.add(str(getattr(root, "id", "")))
        if treatment is Treatment.SHOW:
            return value
        return apply(policy, treatment, value, lambda: self._pseudonym_key(info, tenant))

    def _pseudonym_key(self, info: GraphQLResolveInfo, tenant: uuid.UUID | None) -> bytes:
        """Per-tenant, from the keyring's first version: stable across rotations, so a
        regulator's pseudonym for a worker does not change; unlinkable across tenants."""
        if tenant is None:
            raise ScopeRequired("pseudonyms need the owning tenant")
        key = self._keys.get(tenant)
        if key is None:
            keyring = info.context.rt.keyring
            key = keyring.derive(f"pseudonym/{tenant}", keyring.versions[0].version)
            self._keys[tenant] = key
        return key

    async def _audit(self) -> None:
        context = self.execution_context.context
        principal: Principal = context.principal
        if not principal.authenticated:
            return
        async with context.write() as session:
            for (tenant, viewer, type_name), (fields, objects) in self._reads.items():
                domain = tenant_domain(tenant) if tenant is not None else None
                if viewer == "government":
                    gov = [g.domain for g in principal.grants if g.domain.startswith("gov:")]
                    domain = gov[0] if gov else domain
                await record_read(
                    session,
                    principal.actor(domain),
                    purpose=PURPOSE.get(viewer, f"enterprise.{viewer}"),
                    object_type=type_name,
                    object_id=next(iter(objects)) if len(objects) == 1 else None,
                    fields=fields,
                    domain=domain,
                    count=len(objects),
                )
