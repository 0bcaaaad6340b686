"""Photos people attach (work-order comments, notice answers, a regulator's photos of a
notice's findings): re-encoded without metadata and
with faces pixelated, kept under unguessable keys of the uploader's tenant.

Only the pixelated copy is kept: a photo of a broken flange needs no face, and a face in it is
a worker's biometric data (PIPL), so unlike a camera snapshot there is no original to guard.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.authz import Authorizer
from backend.auth.principal import Principal
from backend.auth.service import require
from backend.core.errors import BadInput, NotFound
from backend.core.objects import ObjectStore
from privacy.audit import record
from privacy.images import MAX_PHOTO_BYTES as MAX_PHOTO_BYTES
from privacy.images import PHOTO_TYPES, sanitise_photo
from tenants.service import tenant_domain

MEDIA_TYPES = {extension: media for media, extension in PHOTO_TYPES.items()}
# Attaching a photo is part of working on an order; seeing one is reading the order.
UPLOAD_PERMISSION = ("work_order", "update")
READ_PERMISSION = ("work_order", "read")

_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# photos/<tenant>/<uuid>.<ext> from the enterprise; photos/<tenant>/<site>/<uuid>.<ext> from a
# regulator photographing a site's findings (the site's tenant sees them as its own).
_KEY = re.compile(
    rf"^photos/(?P<tenant>{_UUID})/(?:(?P<site>{_UUID})/)?(?P<id>{_UUID})\.(?P<ext>jpg|png)$"
)


def upload_tenant(principal: Principal, tenant_id: uuid.UUID | None) -> uuid.UUID:
    """The tenant a photo is uploaded for: the one named, else the caller's only tenant."""
    if tenant_id is not None:
        return tenant_id
    tenants = {
        uuid.UUID(grant.domain.removeprefix("tenant:"))
        for grant in principal.grants
        if grant.domain.startswith("tenant:")
    }
    if len(tenants) != 1:
        raise BadInput("name the tenant the photo is for: ?tenant=<id>")
    return tenants.pop()


def authorise_upload(authz: Authorizer, principal: Principal, tenant_id: uuid.UUID) -> str:
    """The tenant's domain, once the caller may attach photos there (another tenant's is not
    found rather than forbidden)."""
    domain = tenant_domain(tenant_id)
    if principal.role_in(domain) is None:
        raise NotFound(f"tenant {tenant_id} not found")
    require(authz, principal, domain, *UPLOAD_PERMISSION, operation="attach photos")
    return domain


def store_photo(
    objects: ObjectStore,
    tenant_id: uuid.UUID,
    content_type: str,
    data: bytes,
    site_id: uuid.UUID | None = None,
) -> str:
    """Sanitise and store one upload; returns its key, under the site when one is named (a
    regulator's). CPU-bound (decoding, face detection): call it from a worker thread."""
    image, declared, extension = sanitise_photo(content_type, data)
    where = f"{tenant_id}" if site_id is None else f"{tenant_id}/{site_id}"
    key = f"photos/{where}/{uuid.uuid4()}.{extension}"
    objects.put(key, image, declared)
    return key


async def record_upload(session: AsyncSession, principal: Principal, domain: str, key: str) -> None:
    match = _KEY.match(key)
    assert match is not None  # a key store_photo made
    detail = {"key": key}
    if match.group("site"):
        detail["site_id"] = match.group("site")
    await record(
        session,
        principal.actor(domain),
        "photo.upload",
        domain=domain,
        object_type="photo",
        object_id=match.group("id"),
        detail=detail,
    )


def readable_photo(authz: Authorizer, principal: Principal, objects: ObjectStore, key: str) -> str:
    """The media type of the photo at ``key``, once the caller may see it: a member of its
    tenant who may read work orders. Anyone else, and a key that names nothing, is not found."""
    match = _KEY.match(key)
    if match is None:
        raise NotFound(f"photo {key} not found")
    domain = tenant_domain(uuid.UUID(match.group("tenant")))
    if principal.role_in(domain) is None or not objects.exists(key):
        raise NotFound(f"photo {key} not found")
    require(authz, principal, domain, *READ_PERMISSION, operation="see photos")
    return MEDIA_TYPES[match.group("ext")]
