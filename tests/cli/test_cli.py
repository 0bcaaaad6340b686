"""The ``anjian`` console script, run as a real subprocess against its own data directory.

Each subprocess opens its own embedded ClickHouse under the module's data directory (another
process than pytest's, so the one-engine-per-process rule holds). Results are checked in the
SQLite file the commands wrote, read with the standard library while no command is running.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.migrate import head_revision
from backend.telemetry.migrate import discover
from tests.factories import PASSWORD, unique

ANJIAN = Path(sys.executable).parent / "anjian"
TIMEOUT = 120

pytestmark = pytest.mark.slow

SENSORS = [
    {"code": "GT-101", "kind": "combustible_gas", "unit": "%LEL", "zone": "tank-farm-A"},
    {"code": "TT-201", "kind": "temperature", "unit": "°C"},
]


def anjian_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANJIAN_")}
    env.update(
        ANJIAN_DATA_DIR=str(data_dir),
        ANJIAN_PASSWORD_SCRYPT_LOG2N="10",
        ANJIAN_ENV_FILE=str(data_dir / "none.env"),
        **extra,
    )
    return env


@dataclass
class Cli:
    data_dir: Path
    first_migrate: dict[str, Any] = field(default_factory=dict)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ANJIAN), *args],
            env=anjian_env(self.data_dir),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def ok_json(self, *args: str) -> dict[str, Any]:
        """Exactly one JSON object on stdout (json.loads refuses trailing data)."""
        payload = json.loads(self.ok(*args, "--json"))
        assert isinstance(payload, dict)
        return payload

    def fails(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run(*args)
        assert done.returncode != 0, done.stdout
        assert done.stdout == ""
        assert done.stderr.strip(), "an error needs a message on stderr"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "anjian.db")

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with closing(self.db()) as conn:
            return conn.execute(sql, params).fetchall()


def hexid(value: str) -> str:
    """SQLite stores UUIDs as 32 hex digits."""
    return uuid.UUID(value).hex


def email(prefix: str) -> str:
    return f"{unique(prefix)}@example.cn"


def new_cli(data_dir: Path) -> Cli:
    cli = Cli(data_dir)
    cli.first_migrate = cli.ok_json("migrate")
    return cli


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return new_cli(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def tenant_id(cli: Cli) -> str:
    payload = cli.ok_json(
        "tenant", "create", "--name", "苏化 CLI", "--division", "320102",
        "--industry", "chemical", "--owner-email", email("owner"), "--owner-password", PASSWORD,
    )  # fmt: skip
    assert set(payload) == {"tenant_id"}
    return str(uuid.UUID(payload["tenant_id"]))


def create_site(cli: Cli, tenant: str, *extra: str) -> str:
    payload = cli.ok_json(
        "site", "create", "--tenant", tenant, "--name", unique("site"), "--division", "320102",
        *extra,
    )  # fmt: skip
    assert set(payload) == {"site_id"}
    return str(uuid.UUID(payload["site_id"]))


@pytest.fixture(scope="module")
def site_id(cli: Cli, tenant_id: str) -> str:
    return create_site(cli, tenant_id)


def write_sensors(tmp_path: Path, content: object, name: str = "sensors.json") -> Path:
    path = tmp_path / name
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def create_device(cli: Cli, site: str, sensors: Path, name: str) -> dict[str, Any]:
    return cli.ok_json(
        "device", "create", "--site", site, "--name", name, "--sensors", str(sensors)
    )


# --- migrate -------------------------------------------------------------------------------


def test_first_migrate_reports_what_it_did(cli: Cli) -> None:
    report = cli.first_migrate
    assert report["changed"] is True
    assert report["relational"] == {"from": None, "to": head_revision()}
    assert "0001_readings" in report["clickhouse_applied"]


def test_second_migrate_has_nothing_to_do(cli: Cli) -> None:
    report = cli.ok_json("migrate")
    assert report["changed"] is False
    assert report["relational"] == {"from": head_revision(), "to": head_revision()}
    assert report["clickhouse_applied"] == []
    assert "nothing to do" in cli.ok("migrate")


# --- tenants and sites ---------------------------------------------------------------------


def test_tenant_create_stores_the_tenant_and_its_owner(cli: Cli, tenant_id: str) -> None:
    rows = cli.rows("SELECT name, division_code FROM tenants WHERE id = ?", hexid(tenant_id))
    assert rows == [("苏化 CLI", "320102")]
    roles = cli.rows("SELECT role FROM memberships WHERE domain = ?", f"tenant:{tenant_id}")
    assert roles == [("owner",)]


@pytest.mark.parametrize("code", ["32010", "abcdef", "990000"])
@pytest.mark.parametrize("command", ["tenant", "site", "regulator"])
def test_malformed_division_is_refused(cli: Cli, tenant_id: str, command: str, code: str) -> None:
    args = {
        "tenant": ["tenant", "create", "--name", "X", "--industry", "mining",
                   "--owner-email", email("div"), "--owner-password", PASSWORD],
        "site": ["site", "create", "--tenant", tenant_id, "--name", "X"],
        "regulator": ["regulator", "create", "--email", email("div"), "--password", PASSWORD,
                      "--role", "inspector"],
    }[command]  # fmt: skip
    done = cli.fails(*args, "--division", code, "--json")
    assert done.returncode == 2
    assert "division" in done.stderr
    assert code in done.stderr


def test_site_default_plan_is_standard(cli: Cli, site_id: str) -> None:
    rows = cli.rows(
        "SELECT s.plan_code, s.status, t.major_hazard_grade FROM subscriptions s "
        "JOIN sites t ON t.id = s.site_id WHERE s.site_id = ?",
        hexid(site_id),
    )
    assert rows == [("standard", "active", None)]


@pytest.mark.parametrize(("plan", "grade"), [("basic", "1"), ("enterprise", "4")])
def test_site_plan_and_major_hazard_grade(cli: Cli, tenant_id: str, plan: str, grade: str) -> None:
    site = create_site(cli, tenant_id, "--plan", plan, "--major-hazard-grade", grade)
    rows = cli.rows(
        "SELECT s.plan_code, t.major_hazard_grade FROM subscriptions s "
        "JOIN sites t ON t.id = s.site_id WHERE s.site_id = ?",
        hexid(site),
    )
    assert rows == [(plan, int(grade))]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [(["--plan", "gold"], "gold"), (["--major-hazard-grade", "5"], "5")],
)
def test_site_create_refuses_bad_plan_or_grade(
    cli: Cli, tenant_id: str, extra: list[str], fragment: str
) -> None:
    done = cli.fails(
        "site", "create", "--tenant", tenant_id, "--name", "X", "--division", "320102", *extra,
        "--json",
    )  # fmt: skip
    assert fragment in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["site", "create", "--tenant", "{id}", "--name", "X", "--division", "320102", "--json"],
        ["site", "suspend", "--site", "{id}"],
        ["site", "resume", "--site", "{id}"],
        ["device", "create", "--site", "{id}", "--name", "X", "--sensors", "{file}", "--json"],
        ["device", "revoke", "--device", "{id}"],
    ],
    ids=["site-create", "site-suspend", "site-resume", "device-create", "device-revoke"],
)
def test_unknown_ids_are_not_found(cli: Cli, tmp_path: Path, args: list[str]) -> None:
    missing = str(uuid.uuid4())
    sensors = str(write_sensors(tmp_path, SENSORS))
    done = cli.fails(*(a.format(id=missing, file=sensors) for a in args))
    assert missing in done.stderr
    assert "not found" in done.stderr


def test_site_create_with_a_tenant_that_is_no_uuid(cli: Cli) -> None:
    done = cli.fails(
        "site", "create", "--tenant", "not-a-uuid", "--name", "X", "--division", "320102", "--json"
    )
    assert done.returncode == 2
    assert "--tenant" in done.stderr
    assert "not-a-uuid" in done.stderr


def test_site_suspend_and_resume(cli: Cli, tenant_id: str) -> None:
    site = create_site(cli, tenant_id)

    def status() -> str:
        return cli.rows("SELECT status FROM subscriptions WHERE site_id = ?", hexid(site))[0][0]

    cli.ok("site", "suspend", "--site", site)
    assert status() == "suspended"
    cli.ok("site", "resume", "--site", site)
    assert status() == "active"


# --- devices -------------------------------------------------------------------------------


def test_device_create_prints_ids_token_and_sensors(cli: Cli, site_id: str, tmp_path: Path) -> None:
    payload = create_device(cli, site_id, write_sensors(tmp_path, SENSORS), "gas-panel-1")
    assert set(payload) == {"device_id", "token", "sensors"}
    assert isinstance(payload["token"], str)
    assert len(payload["token"]) >= 16
    assert set(payload["sensors"]) == {"GT-101", "TT-201"}
    device = hexid(payload["device_id"])
    stored = dict(cli.rows("SELECT code, id FROM sensors WHERE device_id = ?", device))
    assert {code: hexid(sid) for code, sid in payload["sensors"].items()} == stored
    assert cli.rows("SELECT token_hash FROM devices WHERE id = ?", device) != [
        (payload["token"],)
    ], "the token must not be stored in the clear"


def zone_of(cli: Cli, sensor_id: str) -> list[tuple[Any, ...]]:
    return cli.rows(
        "SELECT z.id, z.name, z.site_id FROM sensors s JOIN zones z ON z.id = s.zone_id "
        "WHERE s.id = ?",
        hexid(sensor_id),
    )


def test_sensor_zones_are_created_once_and_reused(cli: Cli, tenant_id: str, tmp_path: Path) -> None:
    site = create_site(cli, tenant_id)
    sensors = write_sensors(tmp_path, SENSORS)
    first = create_device(cli, site, sensors, "first")
    zone = zone_of(cli, first["sensors"]["GT-101"])
    assert [(name, site_ref) for _, name, site_ref in zone] == [("tank-farm-A", hexid(site))]
    assert zone_of(cli, first["sensors"]["TT-201"]) == []

    # Codes are unique per site: the second device's gas sensor is GT-102, in the same zone.
    again = write_sensors(tmp_path, [{**SENSORS[0], "code": "GT-102"}], "second.json")
    second = create_device(cli, site, again, "second")
    assert zone_of(cli, second["sensors"]["GT-102"]) == zone
    count = cli.rows(
        "SELECT count(*) FROM zones WHERE site_id = ? AND name = 'tank-farm-A'", hexid(site)
    )
    assert count == [(1,)]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ([{"code": "X-1", "kind": "radiation", "unit": "Sv"}], ["unknown kind", "radiation"]),
        ([{"code": "X-1", "kind": "temperature", "unit": "K"}], ["X-1", "°C", "'K'"]),
        (
            [
                {"code": "X-1", "kind": "temperature", "unit": "°C"},
                {"code": "X-1", "kind": "pressure", "unit": "kPa"},
            ],
            ["duplicate", "X-1"],
        ),
        ("[{not json", ["not valid JSON"]),
    ],
    ids=["unknown-kind", "wrong-unit", "duplicate-code", "not-json"],
)
def test_device_create_refuses_a_bad_sensors_file(
    cli: Cli, site_id: str, tmp_path: Path, content: object, fragments: list[str]
) -> None:
    name = unique("refused")
    done = cli.fails(
        "device", "create", "--site", site_id, "--name", name,
        "--sensors", str(write_sensors(tmp_path, content)), "--json",
    )  # fmt: skip
    assert done.returncode == 2
    for fragment in fragments:
        assert fragment in done.stderr
    assert cli.rows("SELECT id FROM devices WHERE name = ?", name) == []


def test_device_create_with_a_missing_sensors_file(cli: Cli, site_id: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    done = cli.fails(
        "device", "create", "--site", site_id, "--name", "X", "--sensors", str(missing), "--json"
    )
    assert done.returncode == 2
    assert str(missing) in done.stderr


def test_device_revoke(cli: Cli, tenant_id: str, tmp_path: Path) -> None:
    site = create_site(cli, tenant_id)
    device = create_device(cli, site, write_sensors(tmp_path, SENSORS), "to-revoke")
    device_id = device["device_id"]
    assert cli.rows("SELECT revoked_at FROM devices WHERE id = ?", hexid(device_id)) == [(None,)]
    cli.ok("device", "revoke", "--device", device_id)
    [(revoked_at,)] = cli.rows("SELECT revoked_at FROM devices WHERE id = ?", hexid(device_id))
    assert revoked_at is not None


# --- accounts ------------------------------------------------------------------------------


def test_admin_create_twice_is_refused(cli: Cli) -> None:
    address = email("admin")
    payload = cli.ok_json("admin", "create", "--email", address, "--password", PASSWORD)
    user = hexid(payload["user_id"])
    assert cli.rows("SELECT domain, role FROM memberships WHERE user_id = ?", user) == [
        ("platform", "platform_admin")
    ]
    users = cli.rows("SELECT count(*) FROM users")  # addresses are stored encrypted
    done = cli.fails("admin", "create", "--email", address, "--password", PASSWORD, "--json")
    assert done.returncode == 2
    assert address in done.stderr
    assert "already exists" in done.stderr
    assert cli.rows("SELECT count(*) FROM users") == users


def test_regulator_create(cli: Cli) -> None:
    address = email("director")
    payload = cli.ok_json(
        "regulator", "create", "--division", "320100", "--email", address,
        "--password", PASSWORD, "--role", "director",
    )  # fmt: skip
    user = hexid(payload["user_id"])
    assert cli.rows("SELECT domain, role FROM memberships WHERE user_id = ?", user) == [
        ("gov:320100", "director")
    ]


def test_regulator_with_an_existing_email_is_refused(cli: Cli) -> None:
    address = email("taken")
    admin = cli.ok_json("admin", "create", "--email", address, "--password", PASSWORD)
    done = cli.fails(
        "regulator", "create", "--division", "320500", "--email", address,
        "--password", PASSWORD, "--role", "analyst", "--json",
    )  # fmt: skip
    assert address in done.stderr
    assert "already exists" in done.stderr
    user = hexid(admin["user_id"])
    assert cli.rows("SELECT domain FROM memberships WHERE user_id = ?", user) == [("platform",)]


@pytest.mark.parametrize("command", ["admin", "tenant", "regulator"])
def test_short_password_is_refused(cli: Cli, command: str) -> None:
    address = email("short")
    args = {
        "admin": ["admin", "create", "--email", address, "--password", "short"],
        "tenant": ["tenant", "create", "--name", "X", "--division", "320102",
                   "--industry", "construction", "--owner-email", address,
                   "--owner-password", "short"],
        "regulator": ["regulator", "create", "--division", "320100", "--email", address,
                      "--password", "short", "--role", "inspector"],
    }[command]  # fmt: skip
    users = cli.rows("SELECT count(*) FROM users")  # addresses are stored encrypted
    done = cli.fails(*args, "--json")
    assert done.returncode == 2
    assert "password" in done.stderr
    assert cli.rows("SELECT count(*) FROM users") == users


# --- audit ---------------------------------------------------------------------------------


def test_audit_verify_after_set_up(cli: Cli, tenant_id: str, site_id: str) -> None:
    report = cli.ok_json("audit", "verify")
    assert report["ok"] is True
    assert report["entries"] > 0
    assert report["first_broken_seq"] is None
    [(count,)] = cli.rows("SELECT count(*) FROM audit_entries")
    assert report["entries"] == count


def test_audit_verify_names_a_tampered_entry(tmp_path: Path) -> None:
    own = new_cli(tmp_path)
    own.ok_json("admin", "create", "--email", email("a"), "--password", PASSWORD)
    own.ok_json("admin", "create", "--email", email("b"), "--password", PASSWORD)
    [(seq,)] = own.rows("SELECT min(seq) FROM audit_entries")
    with closing(own.db()) as conn, conn:
        conn.execute("UPDATE audit_entries SET action = 'nothing.happened' WHERE seq = ?", (seq,))
    done = own.run("audit", "verify", "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert report["first_broken_seq"] == seq


# --- the embedded engine belongs to one process ---------------------------------------------

HOLDER = """
import sys
import clickhouse_connect
client = clickhouse_connect.get_client(dsn=sys.argv[1])
client.command("SELECT 1")
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def engine_held_by_another_process(chdb: Path) -> Iterator[None]:
    """Another process opens the chdb engine at ``chdb`` and keeps it until the block ends."""
    chdb.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"chdb://{chdb}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "ready", "the holder could not open chdb"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=TIMEOUT)
        holder.stdout.close()


def test_migrate_refuses_an_engine_in_use(tmp_path: Path) -> None:
    busy = Cli(tmp_path)
    chdb = tmp_path / "clickhouse"
    with engine_held_by_another_process(chdb):
        done = busy.fails("migrate", "--json")
    assert "in use" in done.stderr
    assert str(chdb) in done.stderr
    # Once the other process is gone the same command works.
    applied = busy.ok_json("migrate")["clickhouse_applied"]
    assert applied == [f"{m.version:04d}_{m.name}" for m in discover()]


def test_migrate_and_backup_show_no_raw_engine_error_when_a_server_holds_it(
    tmp_path: Path,
) -> None:
    busy = new_cli(tmp_path)
    with engine_held_by_another_process(tmp_path / "clickhouse"):
        migrate = busy.fails("migrate")
        backup = busy.fails("backup", "create", "--to", str(tmp_path / "archive"))
    for done in (migrate, backup):
        assert done.returncode == 2
        assert "DB::Exception" not in done.stderr and "Code: 76" not in done.stderr
        assert done.stderr.startswith("anjian: error:"), done.stderr
        assert "in use" in done.stderr


# --- a store that is not there, not migrated or not reachable ------------------------------

# One command of each group that works on the store, with arguments that would otherwise do.
STORE_COMMANDS = [
    ["admin", "create", "--email", "a@example.cn", "--password", PASSWORD],
    ["tenant", "list"],
    ["site", "suspend", "--site", str(uuid.uuid4())],
    ["device", "list", "--site", str(uuid.uuid4())],
    ["audit", "verify"],
    ["keys", "status"],
    ["retention"],
    ["backup", "create", "--to", "archive"],
]


def refused_with_one_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("anjian: error:"), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_every_command_on_a_missing_store_names_the_fix_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """Run from a folder without ./var (ANJIAN_DATA_DIR unset): nothing is created there."""
    env = {k: v for k, v in anjian_env(tmp_path).items() if k != "ANJIAN_DATA_DIR"}
    for args in STORE_COMMANDS:
        done = subprocess.run(
            [str(ANJIAN), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
        refused_with_one_line(done, "anjian migrate", str(tmp_path / "var"))
    assert not (tmp_path / "var").exists()


def test_commands_and_the_server_refuse_an_unmigrated_store(tmp_path: Path) -> None:
    (tmp_path / "anjian.db").touch()  # an empty SQLite file: a store nobody migrated
    unmigrated = Cli(tmp_path)
    for args in (STORE_COMMANDS[0], STORE_COMMANDS[1], ["serve", "--port", "0"]):
        refused_with_one_line(unmigrated.run(*args), "not migrated", "anjian migrate")


@pytest.mark.postgres
def test_an_unreachable_postgresql_is_named() -> None:
    url = "postgresql://anjian@127.0.0.1:9/anjian"  # port 9 (discard): nothing listens
    with_pg = {**anjian_env(Path("unused")), "ANJIAN_DATABASE_URL": url}
    for args in (STORE_COMMANDS[1], ["serve", "--port", "0"]):
        done = subprocess.run(
            [str(ANJIAN), *args], env=with_pg, capture_output=True, text=True,
            timeout=TIMEOUT, check=False,
        )  # fmt: skip
        refused_with_one_line(done, "cannot reach PostgreSQL at 127.0.0.1:9/anjian")


# --- listing -------------------------------------------------------------------------------


def test_tenants_sites_and_devices_are_listed(cli: Cli, tenant_id: str, tmp_path: Path) -> None:
    site = create_site(cli, tenant_id)
    device = create_device(cli, site, write_sensors(tmp_path, SENSORS), "listed")
    tenants = cli.ok_json("tenant", "list")["tenants"]
    [mine] = [t for t in tenants if t["tenant_id"] == tenant_id]
    assert mine["name"] == "苏化 CLI" and mine["industry"] == "chemical" and mine["sites"] >= 1
    sites = cli.ok_json("site", "list", "--tenant", tenant_id)["sites"]
    assert {s["tenant_id"] for s in sites} == {tenant_id}
    [listed] = [s for s in sites if s["site_id"] == site]
    assert (listed["plan"], listed["status"], listed["devices"], listed["sensors"]) == (
        "standard", "active", 1, 2,
    )  # fmt: skip
    assert {s["site_id"] for s in cli.ok_json("site", "list")["sites"]} >= {site}
    devices = cli.ok_json("device", "list", "--site", site)["devices"]
    assert devices == [
        {"device_id": device["device_id"], "name": "listed", "revoked": False,
         "sensors": device["sensors"]},
    ]  # fmt: skip
    table = cli.ok("device", "list", "--site", site)
    assert device["device_id"] in table and "GT-101, TT-201" in table
    assert cli.fails("site", "list", "--tenant", str(uuid.uuid4())).returncode == 1


def test_a_second_device_with_a_code_of_the_site_is_refused(
    cli: Cli, tenant_id: str, tmp_path: Path
) -> None:
    site = create_site(cli, tenant_id)
    first = create_device(cli, site, write_sensors(tmp_path, SENSORS), "first")
    clash = write_sensors(tmp_path, [{"code": "TT-201", "kind": "temperature", "unit": "°C"}])
    name = unique("clash")
    done = cli.fails("device", "create", "--site", site, "--name", name, "--sensors",
                     str(clash), "--json")  # fmt: skip
    assert done.returncode == 2
    assert "TT-201" in done.stderr and first["device_id"] in done.stderr
    assert cli.rows("SELECT id FROM devices WHERE name = ?", name) == []
