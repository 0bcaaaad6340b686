"""The demo (``anjian demo``): seed the demo data set and print its logins.

Seeding is idempotent: the plan (``backend.demo.world``) is the same on every run, and each
object is looked up by its natural key (tenant name, site name, zone name, employee number,
device name, e-mail) before it is created, so a second run creates nothing and a run that was
interrupted is completed. Every write goes through the domain services as the system
principal, so the audit trail records the demo like any other provisioning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.auth import service as auth_service
from backend.auth.authz import Authorizer
from backend.auth.members import unscoped_add_member_in_own_transaction
from backend.auth.models import Membership, User
from backend.auth.principal import Principal
from backend.auth.provisioning import unscoped_provision_tenant_in_own_transaction
from backend.demo.world import (
    ADMIN_EMAIL,
    ENTERPRISE_ROLE_ORDER,
    PASSWORD,
    ROLE_LABELS,
    DemoPlan,
    RegulatorSpec,
    SiteSpec,
    TenantSpec,
    build_plan,
)
from backend.oversight.hazards.models import HazardUnit, ResponsibleRole
from backend.oversight.hazards.responsibles import assign_hazard_responsible
from backend.oversight.hazards.service import register_hazard_unit
from backend.oversight.service import create_regulator_in_own_transaction, gov_domain
from backend.telemetry.kinds import parse_sensors
from backend.telemetry.models import Device, Sensor
from backend.telemetry.service import create_device
from tenants.models import Site, Tenant, Worker, Zone
from tenants.scope import Scope, scoped_session
from tenants.service import (
    create_site_in_own_transaction,
    create_worker,
    create_zone,
    tenant_domain,
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    role: str
    domain: str
    label: str  # zh-CN with English, e.g. "南京市应急管理局 · 负责人 Director"


@dataclass(frozen=True)
class DemoSummary:
    logins: tuple[DemoLogin, ...]
    tenants: int
    sites: int
    devices: int
    sensors: int
    workers: int
    created_now: int  # objects created by this run (0 when the demo was already complete)


class _Seeder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        authz: Authorizer,
        log2_n: int,
        progress: Progress,
    ) -> None:
        self.sessions = sessions
        self.authz = authz
        self.log2_n = log2_n
        self.progress = progress
        self.task = progress.add_task("演示数据 Demo data", total=None)
        self.created = 0
        self.logins: list[DemoLogin] = []

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        self.progress.update(self.task, description=description)
        yield
        self.progress.advance(self.task)

    def login(self, email: str, role: str, domain: str, where: str) -> None:
        label = f"{where} · {ROLE_LABELS[role]}"
        self.logins.append(DemoLogin(email, PASSWORD, role, domain, label))

    async def _has_role(self, email: str, domain: str, role: str) -> bool:
        """Whether the account exists, can sign in, and holds ``role`` in ``domain``."""
        async with self.sessions() as session:
            held = await session.scalar(
                select(Membership.role)
                .join(User, User.id == Membership.user_id)
                .where(
                    await User.email.matches(session, email),
                    User.password_hash.is_not(None),
                    Membership.domain == domain,
                )
            )
        return held == role

    async def _user_exists(self, email: str) -> bool:
        async with self.sessions() as session:
            found = select(User.id).where(await User.email.matches(session, email))
            return await session.scalar(found) is not None

    async def regulator(self, spec: RegulatorSpec) -> None:
        domain = gov_domain(spec.division)
        if not await self._user_exists(spec.email):
            await create_regulator_in_own_transaction(
                sessions=self.sessions,
                authz=self.authz,
                principal=Principal.system(),
                division_code=spec.division,
                email=spec.email,
                password=PASSWORD,
                role=spec.role,
                log2_n=self.log2_n,
            )
            self.created += 1
        self.login(spec.email, spec.role, domain, spec.agency)

    async def admin(self) -> None:
        if not await self._user_exists(ADMIN_EMAIL):
            actor = Principal.system().actor()
            async with self.sessions() as session, session.begin():
                user = await auth_service.create_user(
                    session=session,
                    email=ADMIN_EMAIL,
                    password=PASSWORD,
                    actor=actor,
                    log2_n=self.log2_n,
                )
                await auth_service.grant_membership(
                    session=session,
                    user=user,
                    domain="platform",
                    role="platform_admin",
                    actor=actor,
                )
            self.created += 1
        self.login(ADMIN_EMAIL, "platform_admin", "platform", "安监平台 Anjian platform")

    async def _find_tenant(self, spec: TenantSpec) -> uuid.UUID | None:
        async with self.sessions() as session:
            found = await session.scalar(select(Tenant.id).where(Tenant.name == spec.name))
            if found is not None:
                return found
            # Same demo, other name (e.g. a different Faker release): find it by its owner.
            domain = await session.scalar(
                select(Membership.domain)
                .join(User, User.id == Membership.user_id)
                .where(
                    await User.email.matches(session, spec.email("owner")),
                    Membership.role == "owner",
                )
            )
        return None if domain is None else uuid.UUID(domain.removeprefix("tenant:"))

    async def tenant(self, spec: TenantSpec) -> uuid.UUID:
        tenant_id = await self._find_tenant(spec)
        if tenant_id is None:
            tenant = await unscoped_provision_tenant_in_own_transaction(
                sessions=self.sessions,
                authz=self.authz,
                principal=Principal.system(),
                name=spec.name,
                division_code=spec.division,
                industry=spec.industry,
                owner_email=spec.email("owner"),
                owner_password=PASSWORD,
                credit_code=spec.credit_code,
                log2_n=self.log2_n,
            )
            tenant_id = tenant.id
            self.created += 2  # the tenant and its owner
        self.login(spec.email("owner"), "owner", tenant_domain(tenant_id), spec.name)
        return tenant_id

    async def member(self, spec: TenantSpec, tenant_id: uuid.UUID, role: str) -> None:
        domain, email = tenant_domain(tenant_id), spec.email(role)
        if not await self._has_role(email, domain, role):
            # Demo accounts are the operator's, made at the command line: they work at once.
            await unscoped_add_member_in_own_transaction(
                sessions=self.sessions,
                principal=Principal.system(),
                domain=domain,
                email=email,
                role=role,
                password=PASSWORD,
                log2_n=self.log2_n,
            )
            self.created += 1
        self.login(email, role, domain, spec.name)

    async def site(self, tenant_id: uuid.UUID, spec: SiteSpec) -> None:
        """The site and everything on it; what exists already is left as it is."""
        scope = Scope.for_tenant(tenant_id)
        principal = Principal.system(scope)
        async with scoped_session(self.sessions, scope) as session:
            site_id = await session.scalar(
                select(Site.id).where(Site.tenant_id == tenant_id, Site.name == spec.name)
            )
        if site_id is None:
            site = await create_site_in_own_transaction(
                sessions=self.sessions,
                authz=self.authz,
                principal=principal,
                tenant_id=tenant_id,
                name=spec.name,
                division_code=spec.division,
                plan=spec.plan,
                major_hazard_grade=spec.major_hazard_grade,
                address=spec.address,
                latitude=spec.latitude,
                longitude=spec.longitude,
            )
            site_id = site.id
            self.created += 1
        async with scoped_session(self.sessions, scope) as session, session.begin():
            zones = set(await session.scalars(select(Zone.name).where(Zone.site_id == site_id)))
            for name, kind in spec.zones:
                if name not in zones:
                    await create_zone(
                        session=session,
                        authz=self.authz,
                        principal=principal,
                        site_id=site_id,
                        name=name,
                        kind=kind,
                    )
                    self.created += 1
            rows = await session.execute(
                select(Worker.employee_number, Worker.id).where(Worker.tenant_id == tenant_id)
            )
            workers: dict[str, uuid.UUID] = {number: id_ for number, id_ in rows}
            for w in spec.workers:
                if w.employee_number not in workers:
                    worker = await create_worker(
                        session=session,
                        authz=self.authz,
                        principal=principal,
                        tenant_id=tenant_id,
                        name=w.name,
                        employee_number=w.employee_number,
                        mobile=w.mobile,
                        id_number=w.id_number,
                        site_id=site_id,
                    )
                    workers[w.employee_number] = worker.id
                    self.created += 1
            await self._hazard_units(session, principal, site_id, spec, workers)
            devices = set(
                await session.scalars(select(Device.name).where(Device.site_id == site_id))
            )
            for d in spec.devices:
                if d.name not in devices:
                    await create_device(
                        session=session,
                        authz=self.authz,
                        principal=principal,
                        site_id=site_id,
                        name=d.name,
                        sensors=parse_sensors(list(d.sensors)),
                        worker_id=None if d.worker is None else workers[d.worker],
                    )
                    self.created += 1

    async def _hazard_units(
        self,
        session: AsyncSession,
        principal: Principal,
        site_id: uuid.UUID,
        spec: SiteSpec,
        workers: dict[str, uuid.UUID],
    ) -> None:
        """The site's hazard units, and for each major one its three accountable persons:
        the site's first three workers."""
        registered = set(
            await session.scalars(select(HazardUnit.name).where(HazardUnit.site_id == site_id))
        )
        accountable = [workers[w.employee_number] for w in spec.workers[: len(ResponsibleRole)]]
        for u in spec.hazard_units:
            if u.name in registered:
                continue
            unit = await register_hazard_unit(
                session=session,
                authz=self.authz,
                principal=principal,
                site_id=site_id,
                name=u.name,
                people_within_500m=u.people_within_500m,
                substances=u.substances,
            )
            self.created += 1
            if unit.is_major:
                for role, worker_id in zip(ResponsibleRole, accountable, strict=True):
                    await assign_hazard_responsible(
                        session=session,
                        authz=self.authz,
                        principal=principal,
                        unit_id=unit.id,
                        role=role,
                        worker_id=worker_id,
                    )

    async def run(self, plan: DemoPlan) -> list[uuid.UUID]:
        steps = len(plan.regulators) + 1
        steps += sum(len(ENTERPRISE_ROLE_ORDER) + len(t.sites) for t in plan.tenants)
        self.progress.update(self.task, total=steps)
        for regulator in plan.regulators:
            with self.step(f"监管账号 Regulator {regulator.email}"):
                await self.regulator(regulator)
        with self.step(f"平台管理员 Platform admin {ADMIN_EMAIL}"):
            await self.admin()
        tenant_ids = []
        for spec in plan.tenants:
            with self.step(f"企业 Tenant {spec.name}"):
                tenant_id = await self.tenant(spec)
            tenant_ids.append(tenant_id)
            for role in ENTERPRISE_ROLE_ORDER[1:]:
                with self.step(f"企业账号 Member {spec.email(role)}"):
                    await self.member(spec, tenant_id, role)
            for site in spec.sites:
                with self.step(f"场所 Site {site.name}"):
                    await self.site(tenant_id, site)
        return tenant_ids


async def _count(sessions: async_sessionmaker[AsyncSession], scope: Scope, model: type) -> int:
    async with scoped_session(sessions, scope) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


def _console() -> Console:
    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or pipe: wide enough for one row per login
        console.width = max(console.width, 120)
    return console


async def seed_demo(
    *,
    sessions: async_sessionmaker[AsyncSession],
    authz: Authorizer,
    log2_n: int,
    plan: DemoPlan | None = None,
) -> DemoSummary:
    """Create whatever of the demo (or of ``plan``, a part of it) is missing; return its
    logins and sizes. ``log2_n``: the password hashing cost of the demo accounts."""
    plan = plan or build_plan()
    columns = (
        TextColumn("{task.description}", style="cyan"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console(), transient=True) as progress:
        seeder = _Seeder(sessions, authz, log2_n, progress)
        tenant_ids = await seeder.run(plan)
    scope = Scope(tenant_ids=frozenset(tenant_ids))
    return DemoSummary(
        logins=tuple(seeder.logins),
        tenants=len(tenant_ids),
        sites=await _count(sessions, scope, Site),
        devices=await _count(sessions, scope, Device),
        sensors=await _count(sessions, scope, Sensor),
        workers=await _count(sessions, scope, Worker),
        created_now=seeder.created,
    )


def _short_domain(domain: str) -> str:
    kind, _, rest = domain.partition(":")
    return f"{kind}:{rest[:8]}…" if kind == "tenant" else domain


def print_logins(summary: DemoSummary) -> None:
    """The demo's logins as a table on stderr (stdout stays free for machine output)."""
    table = Table(
        title="安监演示账号 Anjian demo logins",
        caption=f"所有账号的密码 Password of every account: {PASSWORD}",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("单位 Organisation", no_wrap=True)
    table.add_column("角色 Role", no_wrap=True)
    table.add_column("邮箱 E-mail (login)", style="bold", no_wrap=True)
    table.add_column("域 Domain", no_wrap=True)
    previous = None
    for login in summary.logins:
        where, _, role = login.label.partition(" · ")
        if previous is not None and where != previous:
            table.add_section()
        table.add_row(
            where if where != previous else "", role, login.email, _short_domain(login.domain)
        )
        previous = where
    console = _console()
    console.print(table)
    console.print(
        f"演示数据 Demo data: {summary.tenants} 家企业 tenants, {summary.sites} 个场所 sites, "
        f"{summary.devices} 台设备 devices, {summary.sensors} 个传感器 sensors, "
        f"{summary.workers} 名员工 workers; 本次新建 created now: {summary.created_now}"
    )
