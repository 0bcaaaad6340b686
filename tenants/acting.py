"""What tenants needs of the caller: who acts and what their role allows, as protocols.

``tenants`` sits below ``backend.auth`` (whose principal carries a tenant scope) and imports
none of it: ``backend.auth.principal.Principal`` is an ``Acting`` and
``backend.auth.authz.Authorizer`` a ``Permissions``, and callers pass those.
"""

from __future__ import annotations

from typing import Any, Protocol

from privacy.audit import Actor
from tenants.scope import Scope


class Acting(Protocol):
    """The acting principal: its kind ("user", "system", ...), scope and audit identity."""

    @property
    def kind(self) -> str: ...

    @property
    def scope(self) -> Scope: ...

    def actor(self, domain: str | None = None) -> Actor: ...


class Permissions(Protocol):
    """The role check of every operation (Casbin's, in ``backend.auth.authz``)."""

    def may(self, principal: Any, domain: str, obj: str, action: str) -> bool: ...

    def require(
        self,
        principal: Any,
        domain: str,
        obj: str,
        action: str,
        *,
        operation: str | None = None,
    ) -> None: ...
