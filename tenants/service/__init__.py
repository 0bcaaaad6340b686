"""Tenant lifecycle: tenants, sites, subscriptions, zones and workers.

Every operation takes the acting principal and the authorizer (``tenants.acting``: callers
pass ``backend.auth``'s, which builds on this package) and works inside the principal's scope;
an object outside the scope is ``NotFound``, one inside that the role may not touch is
``Forbidden``. A tenant's provisioning with its owner account is
``backend.auth.provisioning``'s; the operator's site list with device counts is
``backend.oversight.listings``'.
"""

from __future__ import annotations

from tenants.service._checks import clean_text, parse_industry, site_domain, tenant_domain
from tenants.service._sites import (
    create_site_in_own_transaction,
    create_zone,
    get_site,
    list_sites,
    subscriptions_of_sites,
    zones_of_sites,
)
from tenants.service._tenants import (
    NewTenant,
    TenantListing,
    check_new_tenant,
    list_tenants,
    seed_plans,
    set_idle_timeout,
    unscoped_create_tenant,
    unscoped_offboard_tenant_in_own_transaction,
    unscoped_set_subscription_status_in_own_transaction,
    unscoped_site_tenant,
    unscoped_tenant_list,
)
from tenants.service._workers import KEEP, Keep, create_worker, list_workers, update_worker

__all__ = [
    "KEEP",
    "Keep",
    "NewTenant",
    "TenantListing",
    "check_new_tenant",
    "clean_text",
    "create_site_in_own_transaction",
    "create_worker",
    "create_zone",
    "get_site",
    "list_sites",
    "list_tenants",
    "list_workers",
    "parse_industry",
    "seed_plans",
    "set_idle_timeout",
    "site_domain",
    "subscriptions_of_sites",
    "tenant_domain",
    "unscoped_create_tenant",
    "unscoped_offboard_tenant_in_own_transaction",
    "unscoped_set_subscription_status_in_own_transaction",
    "unscoped_site_tenant",
    "unscoped_tenant_list",
    "update_worker",
    "zones_of_sites",
]
