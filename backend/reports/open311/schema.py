"""GraphQL: the platform administrator's management of Open311 API keys. Anyone else is
refused (FORBIDDEN); a key is shown once, when it is issued."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.auth.context import Info
from backend.auth.permissions import IsAuthenticated
from backend.core.ids import parse_id
from backend.reports.open311 import keys
from backend.reports.open311.keys import KeyInfo


@strawberry.type(
    name="Open311Key",
    description="An API key of an Open311 client (a city app, a 12345 hotline system).",
)
class Open311KeyType:
    id: strawberry.ID
    name: str = strawberry.field(description="Whose key it is.")
    prefix: str = strawberry.field(description="The key's first characters, to tell it apart.")
    created_at: datetime
    revoked_at: datetime | None = strawberry.field(description="Refused since then.")

    @classmethod
    def of(cls, info: KeyInfo) -> Open311KeyType:
        return cls(
            id=strawberry.ID(str(info.id)),
            name=info.name,
            prefix=info.prefix,
            created_at=info.created_at,
            revoked_at=info.revoked_at,
        )


@strawberry.type(name="Open311KeyIssued", description="A new key: shown this once, never again.")
class Open311KeyIssuedType:
    api_key: str = strawberry.field(description="The key the client sends as api_key.")
    key: Open311KeyType


@strawberry.type
class Open311Query:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Every Open311 API key, the oldest first (platform administrator only).",
    )
    async def open311_keys(self, info: Info) -> list[Open311KeyType]:
        rt = info.context.rt
        found = await keys.keys_in_own_session(
            sessions=rt.sessions, authz=rt.authz, principal=info.context.principal
        )
        return [Open311KeyType.of(k) for k in found]


@strawberry.type
class Open311Mutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Issue an API key to an Open311 client named ``name`` (audited).",
    )
    async def create_open311_key(self, info: Info, name: str) -> Open311KeyIssuedType:
        rt = info.context.rt
        issued, key = await keys.issue_key_in_own_transaction(
            sessions=rt.sessions, authz=rt.authz, principal=info.context.principal, name=name
        )
        return Open311KeyIssuedType(api_key=key, key=Open311KeyType.of(issued))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Revoke an Open311 API key: its client is refused from now on (audited).",
    )
    async def revoke_open311_key(self, info: Info, id: strawberry.ID) -> Open311KeyType:
        rt = info.context.rt
        revoked = await keys.revoke_key_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=info.context.principal,
            key_id=parse_id(id, "Open311 key"),
        )
        return Open311KeyType.of(revoked)
