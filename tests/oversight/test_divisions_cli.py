"""The command line refuses a division code the GB/T 2260 data lacks, and stores nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.test_cli import Cli, email, hexid, new_cli
from tests.factories import PASSWORD, unique

pytestmark = pytest.mark.slow

UNKNOWN = "320199"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return new_cli(tmp_path_factory.mktemp("divisions-cli"))


@pytest.fixture(scope="module")
def tenant_id(cli: Cli) -> str:
    payload = cli.ok_json(
        "tenant", "create", "--name", unique("宁化"), "--division", "320100",
        "--industry", "chemical", "--owner-email", email("owner"), "--owner-password", PASSWORD,
    )  # fmt: skip
    return str(uuid.UUID(payload["tenant_id"]))


def refused(cli: Cli, *args: str) -> None:
    done = cli.fails(*args, "--json")
    assert done.returncode == 2
    assert f"division code {UNKNOWN} names no division" in done.stderr


def test_site_create_refuses_an_unknown_division(cli: Cli, tenant_id: str) -> None:
    name = unique("site")
    refused(cli, "site", "create", "--tenant", tenant_id, "--name", name, "--division", UNKNOWN)
    assert cli.rows("SELECT id FROM sites WHERE name = ?", name) == []
    assert cli.rows("SELECT id FROM sites WHERE tenant_id = ?", hexid(tenant_id)) == []


def test_site_create_accepts_a_district_of_nanjing(cli: Cli, tenant_id: str) -> None:
    name = unique("site")
    cli.ok_json("site", "create", "--tenant", tenant_id, "--name", name, "--division", "320106")
    assert cli.rows("SELECT division_code FROM sites WHERE name = ?", name) == [("320106",)]


def test_tenant_create_refuses_an_unknown_division(cli: Cli) -> None:
    name, owner = unique("苏化"), email("owner")
    refused(
        cli, "tenant", "create", "--name", name, "--division", UNKNOWN, "--industry", "mining",
        "--owner-email", owner, "--owner-password", PASSWORD,
    )  # fmt: skip
    assert cli.rows("SELECT id FROM tenants WHERE name = ?", name) == []


def test_regulator_and_member_refuse_an_unknown_division(cli: Cli) -> None:
    address = email("gov")
    users = cli.rows("SELECT count(*) FROM users")
    refused(
        cli, "regulator", "create", "--division", UNKNOWN, "--email", address,
        "--password", PASSWORD, "--role", "inspector",
    )  # fmt: skip
    refused(
        cli, "member", "add", "--domain", f"gov:{UNKNOWN}", "--email", address,
        "--role", "inspector", "--password", PASSWORD,
    )  # fmt: skip
    assert cli.rows("SELECT user_id FROM memberships WHERE domain = ?", f"gov:{UNKNOWN}") == []
    assert cli.rows("SELECT count(*) FROM users") == users
