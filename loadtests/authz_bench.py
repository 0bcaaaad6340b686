"""Authorization throughput: Casbin checks per second with N tenants and M regulators.

Role templates carry no domain; each tenant has four role assignments and each regulator one.
Measures the raw enforcer, the Authorizer's cache in front of it, and, for comparison, the
per-domain policy layout that the design rejects (one policy row per tenant and permission).

    .venv/bin/python loadtests/authz_bench.py --tenants 1000 --checks 20000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from importlib import resources

import casbin

from backend.auth.authz import ENTERPRISE_ROLES, ROLE_TEMPLATES, domain_matches

_PER_DOMAIN_MODEL = """
[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && (p.obj == "*" || r.obj == p.obj) \
&& (p.act == "*" || r.act == p.act)
"""


def _template_enforcer(tenants: list[str], divisions: list[str]) -> casbin.Enforcer:
    model = casbin.Enforcer.new_model(
        path=str(resources.files("backend.auth").joinpath("rbac_model.conf"))
    )
    enforcer = casbin.Enforcer(model)
    enforcer.add_named_domain_matching_func("g", domain_matches)
    for role, rules in ROLE_TEMPLATES.items():
        for obj, act in rules:
            enforcer.add_policy(role, obj, act)
    for tenant in tenants:
        for role in ENTERPRISE_ROLES:
            enforcer.add_grouping_policy(f"{role}@{tenant}", role, f"tenant:{tenant}")
    for code in divisions:
        enforcer.add_grouping_policy(f"director@{code}", "director", f"gov:{code}")
    return enforcer


def _per_domain_enforcer(tenants: list[str]) -> casbin.Enforcer:
    enforcer = casbin.Enforcer(casbin.Enforcer.new_model(text=_PER_DOMAIN_MODEL))
    for tenant in tenants:
        for role in ENTERPRISE_ROLES:
            enforcer.add_grouping_policy(f"{role}@{tenant}", role, f"tenant:{tenant}")
            for obj, act in ROLE_TEMPLATES[role]:
                enforcer.add_policy(role, f"tenant:{tenant}", obj, act)
    return enforcer


def _requests(tenants: list[str], count: int, rng: random.Random) -> list[tuple[str, ...]]:
    objects = ["site", "device", "sensor", "worker", "zone", "telemetry"]
    actions = ["read", "create", "update"]
    out = []
    for _ in range(count):
        tenant = rng.choice(tenants)
        # One request in four crosses tenants: the answer must be "no".
        target = tenant if rng.random() > 0.25 else rng.choice(tenants)
        out.append(
            (
                f"{rng.choice(ENTERPRISE_ROLES)}@{tenant}",
                f"tenant:{target}",
                rng.choice(objects),
                rng.choice(actions),
            )
        )
    return out


def _rate(enforcer: casbin.Enforcer, requests: list[tuple[str, ...]]) -> tuple[float, int]:
    start = time.perf_counter()
    allowed = sum(1 for r in requests if enforcer.enforce(*r))
    return len(requests) / (time.perf_counter() - start), allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument(
        "--per-domain-checks",
        type=int,
        default=200,
        help="checks against the rejected per-domain layout (it is slow)",
    )
    args = parser.parse_args()
    rng = random.Random(2026)
    tenants = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(args.tenants)]
    divisions = ["320000", "320100", "320500"]
    requests = _requests(tenants, args.checks, rng)

    templates = _template_enforcer(tenants, divisions)
    template_rate, allowed = _rate(templates, requests)
    # The Authorizer caches decisions per (subject, domain, object, action) until a reload.
    cache: dict[tuple[str, ...], bool] = {}
    start = time.perf_counter()
    for r in requests:
        if r not in cache:
            cache[r] = bool(templates.enforce(*r))
    cached_rate = len(requests) / (time.perf_counter() - start)
    per_domain = _per_domain_enforcer(tenants)
    per_domain_rate, _ = _rate(per_domain, requests[: args.per_domain_checks])
    result = {
        "tenants": args.tenants,
        "checks": args.checks,
        "allowed": allowed,
        "role_templates_checks_per_s": round(template_rate),
        "with_cache_checks_per_s": round(cached_rate),
        "per_domain_policies_checks_per_s": round(per_domain_rate),
        "template_speedup_over_per_domain": round(template_rate / per_domain_rate, 1),
    }
    print(json.dumps(result))
    print(
        f"role templates: {template_rate:,.0f} checks/s; per-domain policies: "
        f"{per_domain_rate:,.0f} checks/s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
