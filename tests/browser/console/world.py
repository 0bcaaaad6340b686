"""The two tenants of the console suite, and how a test talks to the server without a browser."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "console-pass-1"
DIST_INDEX = Path(__file__).resolve().parents[3] / "portal" / "web" / "dist" / "app" / "index.html"

TENANT_A = "东江精细化工有限公司"
SITE_A = "东江一号厂区"
SENSORS_A = [
    {"code": "DJ-GT-101", "kind": "combustible_gas", "unit": "%LEL", "zone": "东江罐区"},
    {"code": "DJ-GT-102", "kind": "combustible_gas", "unit": "%LEL", "zone": "东江罐区"},
    {"code": "DJ-TT-201", "kind": "temperature", "unit": "°C", "zone": "东江反应车间"},
    {"code": "DJ-PT-301", "kind": "pressure", "unit": "kPa", "zone": "东江反应车间"},
]
TENANT_B = "西岭煤矿集团"
SITES_B = ["西岭二号井", "西岭选煤厂"]
SENSORS_B = [
    {"code": "XL-GT-901", "kind": "combustible_gas", "unit": "%LEL", "zone": "西岭巷道"},
    {"code": "XL-CH4-902", "kind": "methane", "unit": "%VOL", "zone": "西岭巷道"},
]
ROLES = ("owner", "safety_manager", "operator", "viewer")
# A worker in each tenant, with a mobile an operator must only ever see masked.
WORKER_A = {"name": "东江巡检员周", "employeeNumber": "DJ-E-0017", "mobile": "13912345678"}
WORKER_B = {"name": "西岭掘进工韩", "employeeNumber": "XL-E-0093", "mobile": "13787654321"}


@dataclass
class World:
    url: str
    data_dir: Path
    tenant_a: str
    tenant_b: str
    site_a: str
    sites_b: list[str]
    users: dict[str, str]  # role in tenant A → e-mail
    owner_b: str
    token_a: str  # device tokens
    token_b: str
    sensors_a: dict[str, str]  # code → sensor id
    sensors_b: dict[str, str]
    foreign: list[str] = field(default_factory=list)  # tenant B's words never shown to A
    owner_token: str = ""  # tenant A's owner, as an API client

    def bearer(self, email: str) -> str:
        answer = graphql(
            self.url,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            {"e": email, "p": PASSWORD},
        )
        return str(answer["data"]["login"]["token"])


def graphql(
    url: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers=headers,
        timeout=30,
    )
    return dict(response.json())
