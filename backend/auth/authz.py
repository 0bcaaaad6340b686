"""Casbin RBAC with domains: what a role may do.

Policies are role templates (``p, role, object, action``) shared by every domain; domains
appear only in role assignments (``g, user, role, domain``), which come from the memberships
table. A regulator's ``gov:<code>`` assignment also holds in every division inside its own,
through a domain-matching function. Keeping domains out of the policies is what keeps a check
in microseconds when there are thousands of tenants.

Role templates live in ``casbin_rule`` (written through the Casbin SQLAlchemy adapter). Every
change to a policy or a membership bumps ``authz_state.version`` in the same transaction; each
request compares that version and reloads when another process changed something.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import TYPE_CHECKING

import casbin
from casbin import persist
from casbin_sqlalchemy_adapter import Adapter
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.auth.models import SUSPENDED_PREFIX, AuthzState, CasbinRule, Membership
from backend.core.errors import Forbidden
from tenants.divisions import covers

if TYPE_CHECKING:
    from backend.auth.principal import Principal

ENTERPRISE_ROLES = ("owner", "safety_manager", "operator", "viewer")
GOVERNMENT_ROLES = ("director", "inspector", "analyst")
PLATFORM_ROLES = ("platform_admin",)
ALL_ROLES = ENTERPRISE_ROLES + GOVERNMENT_ROLES + PLATFORM_ROLES

# Objects: tenant, plan, site, zone, subscription, device, sensor, worker, membership,
# telemetry, alarm, alarm_rule, audit, regulator, user (an account itself). Actions: read,
# create, update, delete, "*".
# "alarm update" is handling an alarm: acknowledge, dispatch, clear, close.
# work_order and handover (the response domain, enterprise roles only): "update" on a work
# order is editing, ticking, commenting and moving it along; "verify" signs a finished one
# off; "update" on a handover is accepting it.
# hazard_unit (the register of major hazard sources): the enterprise's owner and safety
# manager register, change and remove units; its other roles and regulators read them.
# notice and supervision (government workflows): regulators create them; "update" is the
# enterprise's answer or report and the regulator's verdict on it. inspection: regulators
# record them ("update" is issuing the notice from one); the enterprise reads its own.
# report (public hazard reports, regulators only): "read" is the jurisdiction's queue;
# "update" is handling one (accept, reject, investigate, close, feedback, draft a summary,
# merge, confirm its subject); "approve" is the director's part (assign, extend the deadline,
# publish the summary); "contact" is reading the reporter's contact, which the service further
# limits to the handling division's director and the assigned inspector.
_READ_OPERATIONS = ["site", "zone", "device", "sensor", "telemetry", "alarm", "alarm_rule"]
ROLE_TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "owner": [("*", "*")],
    "safety_manager": [
        ("site", "read"),
        ("site", "update"),
        ("subscription", "read"),
        ("zone", "*"),
        ("device", "*"),
        ("sensor", "*"),
        ("worker", "*"),
        ("telemetry", "read"),
        ("alarm", "*"),
        ("alarm_rule", "*"),
        ("membership", "read"),
        ("membership", "create"),
        ("membership", "delete"),
        ("audit", "read"),
        ("work_order", "*"),
        ("handover", "*"),
        ("hazard_unit", "*"),
        # Answering a rectification notice is its update; regulators issue (create) them.
        ("notice", "read"),
        ("notice", "update"),
        # Reporting on a supervised alarm (督办) is its update; regulators request them.
        ("supervision", "read"),
        ("supervision", "update"),
        ("inspection", "read"),
    ],
    "operator": [
        *((o, "read") for o in _READ_OPERATIONS),
        ("worker", "read"),
        ("alarm", "update"),
        *(("work_order", a) for a in ("read", "create", "update")),
        *(("handover", a) for a in ("read", "create", "update")),
        ("hazard_unit", "read"),
        ("notice", "read"),
        ("supervision", "read"),
        ("inspection", "read"),
    ],
    "viewer": [
        *((o, "read") for o in _READ_OPERATIONS),
        ("work_order", "read"),
        ("handover", "read"),
        ("hazard_unit", "read"),
        ("notice", "read"),
        ("supervision", "read"),
        ("inspection", "read"),
    ],
    "director": [
        *((o, "read") for o in _READ_OPERATIONS),
        ("hazard_unit", "read"),
        *(("notice", a) for a in ("read", "create", "update")),
        *(("supervision", a) for a in ("read", "create", "update")),
        *(("inspection", a) for a in ("read", "create", "update")),
        *(("report", a) for a in ("read", "update", "approve", "contact")),
        ("worker", "read"),
        ("membership", "read"),
        ("membership", "create"),
        ("membership", "delete"),
    ],
    "inspector": [
        *((o, "read") for o in _READ_OPERATIONS),
        ("worker", "read"),
        ("hazard_unit", "read"),
        *(("notice", a) for a in ("read", "create", "update")),
        *(("supervision", a) for a in ("read", "create", "update")),
        *(("inspection", a) for a in ("read", "create", "update")),
        *(("report", a) for a in ("read", "update", "contact")),
    ],
    "analyst": [
        ("site", "read"),
        ("telemetry", "read"),
        ("alarm", "read"),
        ("hazard_unit", "read"),
        ("notice", "read"),
        ("supervision", "read"),
        ("inspection", "read"),
        ("report", "read"),
    ],
    "platform_admin": [
        ("tenant", "*"),
        ("plan", "read"),
        ("subscription", "*"),
        ("regulator", "create"),
        # Accounts, not their data: disabling and enabling them, and listing the platform's
        # own administrators.
        ("user", "update"),
        ("membership", "read"),
        # The API keys of Open311 clients (city apps, hotline systems).
        ("open311_key", "*"),
    ],
}

# Which roles a member of each role may hand out within its own domain.
GRANTABLE: dict[str, tuple[str, ...]] = {
    "owner": ENTERPRISE_ROLES,
    "safety_manager": ("operator", "viewer"),
    "director": GOVERNMENT_ROLES,
}


def domain_kind(domain: str) -> str:
    return domain.split(":", 1)[0]


def roles_for_domain(domain: str) -> tuple[str, ...]:
    return {"tenant": ENTERPRISE_ROLES, "gov": GOVERNMENT_ROLES, "platform": PLATFORM_ROLES}.get(
        domain_kind(domain), ()
    )


def domain_matches(request_domain: str, assigned_domain: str) -> bool:
    """A ``gov:`` assignment holds in every division inside it; other domains match exactly."""
    if request_domain == assigned_domain:
        return True
    if request_domain.startswith("gov:") and assigned_domain.startswith("gov:"):
        return covers(assigned_domain[4:], request_domain[4:])
    return False


class _MembershipAdapter(Adapter):
    """Role templates from ``casbin_rule``; role assignments from the memberships table."""

    def load_policy(self, model: object) -> None:
        super().load_policy(model)
        with self._session_scope() as session:
            for user_id, role, domain in session.execute(
                select(Membership.user_id, Membership.role, Membership.domain).where(
                    ~Membership.domain.startswith(SUSPENDED_PREFIX)
                )
            ):
                persist.load_policy_line(f"g, {user_id}, {role}, {domain}", model)


# Casbin's wildcard action, read out in refusals: "*" on an object is every action on it.
_ACTION_WORDS = {
    "*": "manage",
    "read": "read",
    "create": "create",
    "update": "change",
    "delete": "delete",
}
_CACHE_LIMIT = 200_000  # decisions kept between reloads; cleared wholesale when full


class Authorizer:
    """One per process: a Casbin enforcer kept in step with the database."""

    def __init__(self, owner_engine: Engine) -> None:
        model_path = resources.files("backend.auth").joinpath("rbac_model.conf")
        self._adapter = _MembershipAdapter(
            owner_engine, db_class=CasbinRule, create_all_models=False
        )
        self._enforcer = casbin.Enforcer(str(model_path), self._adapter)
        self._enforcer.add_named_domain_matching_func("g", domain_matches)
        self._version = -1
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str, str], bool] = {}

    def reload(self, version: int) -> None:
        with self._lock:
            self._enforcer.load_policy()
            self._cache.clear()
            self._version = version

    async def ensure_fresh(self, session: AsyncSession) -> None:
        version = await current_version(session)
        if version != self._version:
            self.reload(version)

    def allowed(self, subject: str, domain: str, obj: str, action: str) -> bool:
        key = (subject, domain, obj, action)
        cached = self._cache.get(key)
        if cached is None:
            with self._lock:
                cached = bool(self._enforcer.enforce(subject, domain, obj, action))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def may(self, principal: Principal, domain: str, obj: str, action: str) -> bool:
        """Whether the principal's role in ``domain`` allows ``action`` on ``obj``."""
        if principal.kind == "system":
            return True
        return principal.id is not None and self.allowed(str(principal.id), domain, obj, action)

    def require(
        self,
        principal: Principal,
        domain: str,
        obj: str,
        action: str,
        *,
        operation: str | None = None,
    ) -> None:
        """The permission check of every service operation; the scope has already found the
        object.

        The refusal names the caller's role and what was refused: ``operation`` when the caller
        describes it ("create notification channels"), else the action and object, with
        Casbin's wildcard action read as "manage" (every action on the object) rather than
        printed as "*".
        """
        if not self.may(principal, domain, obj, action):
            role = principal.role_in(domain)
            who = f"your role {role}" if role else "you"
            what = operation or f"{_ACTION_WORDS.get(action, action)} {obj.replace('_', ' ')}"
            raise Forbidden(f"{who} may not {what} in {domain}")


async def current_version(session: AsyncSession) -> int:
    return (await session.scalar(select(AuthzState.version).where(AuthzState.id == 1))) or 0


async def bump_version(session: AsyncSession) -> None:
    """Call in the transaction that changes a policy or a membership."""
    result = await session.execute(
        update(AuthzState).where(AuthzState.id == 1).values(version=AuthzState.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(AuthzState(id=1, version=1))


def seed_role_templates(session: Session) -> int:
    """Make ``casbin_rule`` hold exactly the role templates; returns rules added or removed."""
    wanted = {(role, obj, act) for role, rules in ROLE_TEMPLATES.items() for obj, act in rules}
    existing = {
        (r.v0, r.v1, r.v2): r
        for r in session.scalars(select(CasbinRule).where(CasbinRule.ptype == "p"))
    }
    changes = 0
    for key in wanted - existing.keys():
        session.add(CasbinRule(ptype="p", v0=key[0], v1=key[1], v2=key[2]))
        changes += 1
    for key in existing.keys() - wanted:
        session.delete(existing[key])
        changes += 1
    if changes:
        state = session.get(AuthzState, 1)
        if state is None:
            session.add(AuthzState(id=1, version=1))
        else:
            state.version += 1
    return changes
