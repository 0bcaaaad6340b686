"""Builders of test data through the real services (the only writers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from backend.auth import service as auth_service
from backend.auth.authz import ENTERPRISE_ROLES
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.oversight.service import create_regulator_in_own_transaction
from backend.runtime import Runtime
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.service import create_device
from tenants.scope import Scope, scoped_session
from tenants.service import create_site_in_own_transaction, create_worker, create_zone

PASSWORD = "correct-horse-9"
SENSORS = [
    {"code": "GT-101", "kind": "combustible_gas", "unit": "%LEL", "zone": "tank-farm-A"},
    {"code": "TT-201", "kind": "temperature", "unit": "°C"},
]


@dataclass
class TenantWorld:
    name: str
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    division: str
    zone_id: uuid.UUID
    device_id: uuid.UUID
    device_token: str
    sensor_ids: dict[str, uuid.UUID]
    worker_id: uuid.UUID
    users: dict[str, str] = field(default_factory=dict)  # role -> e-mail


@dataclass
class World:
    a: TenantWorld
    b: TenantWorld
    regulators: dict[str, str]  # division -> e-mail (director)
    platform_admin: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def build_tenant(rt: Runtime, label: str, division: str, site_division: str) -> TenantWorld:
    system = Principal.system()
    tag = unique(label)
    owner = f"owner.{tag}@example.cn"
    tenant = await unscoped_provision_tenant_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=system,
        name=f"{label} 化工 {tag}",
        division_code=division,
        industry="chemical",
        owner_email=owner,
        owner_password=PASSWORD,
        log2_n=rt.log2_n,
    )
    scope = Scope.for_tenant(tenant.id)
    site = await create_site_in_own_transaction(
        sessions=rt.sessions,
        authz=rt.authz,
        principal=Principal.system(scope),
        tenant_id=tenant.id,
        name=f"{label} 一厂",
        division_code=site_division,
        major_hazard_grade=2,
    )
    async with scoped_session(rt.sessions, scope) as session, session.begin():
        principal = Principal.system(scope)
        zone = await create_zone(
            session=session,
            authz=rt.authz,
            principal=principal,
            site_id=site.id,
            name="罐区A",
            kind="tank_farm",
        )
        worker = await create_worker(
            session=session,
            authz=rt.authz,
            principal=principal,
            tenant_id=tenant.id,
            name="张三",
            employee_number=unique("E"),
            mobile="13812345678",
            site_id=site.id,
        )
        device = await create_device(
            session=session,
            authz=rt.authz,
            principal=principal,
            site_id=site.id,
            name=f"{label} 气体探测器",
            sensors=parse_sensors(SENSORS),
        )
    world = TenantWorld(
        label,
        tenant.id,
        site.id,
        site_division,
        zone.id,
        device.device.id,
        device.token,
        device.sensors,
        worker.id,
        {"owner": owner},
    )
    domain = f"tenant:{tenant.id}"
    for role in ENTERPRISE_ROLES:
        if role == "owner":
            continue
        email = f"{role}.{tag}@example.cn"
        # Made as the operator makes them at the command line (they work at once); the
        # invitation flow has its own tests (tests/auth/test_invitations.py).
        await unscoped_add_member_in_own_transaction(
            sessions=rt.sessions,
            principal=system,
            domain=domain,
            email=email,
            role=role,
            password=PASSWORD,
            log2_n=rt.log2_n,
        )
        world.users[role] = email
    return world


async def build_world(rt: Runtime) -> World:
    """Tenant A in Nanjing (320100), tenant B in Suzhou (320500), regulators above them."""
    a = await build_tenant(rt, "A", "320100", "320102")
    b = await build_tenant(rt, "B", "320500", "320505")
    regulators = {}
    for division in ("320000", "320100", "320500"):
        email = f"gov.{division}.{unique('r')}@example.gov.cn"
        await create_regulator_in_own_transaction(
            sessions=rt.sessions,
            authz=rt.authz,
            principal=Principal.system(),
            division_code=division,
            email=email,
            password=PASSWORD,
            role="director",
            log2_n=rt.log2_n,
        )
        regulators[division] = email
    admin = f"admin.{unique('p')}@anjian.cn"
    async with rt.sessions() as session, session.begin():
        actor = Principal.system().actor()
        user = await auth_service.create_user(
            session=session, email=admin, password=PASSWORD, actor=actor, log2_n=rt.log2_n
        )
        await auth_service.grant_membership(
            session=session, user=user, domain="platform", role="platform_admin", actor=actor
        )
    return World(a, b, regulators, admin)
