"""The government suite's world: regulators of Nanjing (320100) and of Jiangsu (320000), an
enterprise in Nanjing and one in Suzhou whose names, sites and sensor codes cannot be mistaken
for each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.browser.console.world import PASSWORD, SENSORS_A, SITE_A, TENANT_A, graphql

__all__ = ["PASSWORD", "SENSORS_A", "SITE_A", "TENANT_A", "GovWorld", "graphql"]

DIST_INDEX = Path(__file__).resolve().parents[3] / "portal" / "web" / "dist" / "gov" / "index.html"

NANJING = "320100"
JIANGSU = "320000"
SITE_A_DISTRICT = "320102"  # 玄武区
TENANT_S = "姑苏精密制造有限公司"
SITE_S = "姑苏一号车间"
SITE_S_DISTRICT = "320508"  # 姑苏区
SENSORS_S = [
    {"code": "GS-GT-701", "kind": "combustible_gas", "unit": "%LEL", "zone": "姑苏涂装线"},
]
GOV_ROLES = ("director", "inspector", "analyst")
# The major hazard unit of site A (GB 18218-2018 Table 1: chlorine, Q = 5 t).
HAZARD_UNIT = "东江液氯储罐区"
# Its principal in charge (主要负责人), filed with the regulator: shown to it in full.
RESPONSIBLE = {"name": "东江厂长王建国", "employeeNumber": "DJ-E-0001", "mobile": "13912340001"}


@dataclass
class GovWorld:
    url: str
    data_dir: Path
    site_a: str
    site_s: str
    regulators: dict[str, str]  # role in Nanjing → e-mail
    provincial: str  # the director of Jiangsu
    safety_manager: str  # of the Nanjing enterprise
    foreign: list[str] = field(default_factory=list)  # Suzhou's words never shown in Nanjing
    device_a: str = ""  # the token of site A's device, to post readings during a test

    def bearer(self, email: str) -> str:
        answer = graphql(
            self.url,
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }",
            {"e": email, "p": PASSWORD},
        )
        return str(answer["data"]["login"]["token"])
