"""Who is asking: resolved once per request, carrying the tenant scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from backend.auth.authz import domain_matches
from privacy.audit import Actor
from tenants.scope import Scope


@dataclass(frozen=True)
class Grant:
    domain: str
    role: str


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "device", "system", "anonymous"]
    id: uuid.UUID | None = None
    email: str | None = None
    grants: tuple[Grant, ...] = ()
    scope: Scope = field(default_factory=Scope)
    session_id: uuid.UUID | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous")

    @classmethod
    def system(cls, scope: Scope | None = None) -> Principal:
        """The operator at the command line: every permission, within the scope it names."""
        return cls("system", scope=scope or Scope())

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    def role_in(self, domain: str) -> str | None:
        """The role that holds in ``domain`` (a province's role holds in its counties)."""
        for grant in self.grants:
            if domain_matches(domain, grant.domain):
                return grant.role
        return None

    def actor(self, domain: str | None = None) -> Actor:
        role = self.role_in(domain) if domain else None
        return Actor(self.kind, None if self.id is None else str(self.id), role)
