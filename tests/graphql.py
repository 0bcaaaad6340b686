"""A small GraphQL client for tests: sign in once per user, send queries, read error codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.testing import AsyncTestClient

from tests.factories import PASSWORD


@dataclass
class Result:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any] | None:
        return self.body.get("data")

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code") for e in self.body.get("errors") or []]

    @property
    def code(self) -> str | None:
        codes = self.codes
        return codes[0] if codes else None


@dataclass
class GraphQLClient:
    http: AsyncTestClient  # type: ignore[type-arg]
    tokens: dict[str, str] = field(default_factory=dict)

    async def query(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        as_user: str | None = None,
    ) -> Result:
        if as_user is not None:
            token = await self.token_for(as_user)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        return Result(response.status_code, response.json())

    async def login(self, email: str, password: str = PASSWORD) -> Result:
        return await self.query(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            {"e": email, "p": password},
        )

    async def token_for(self, email: str) -> str:
        if email not in self.tokens:
            result = await self.login(email)
            assert result.data, result.body
            self.tokens[email] = result.data["login"]["token"]
        return self.tokens[email]
