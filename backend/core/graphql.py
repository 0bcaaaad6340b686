"""The sign-in guard of GraphQL fields, declared where each field is declared.

It lives in ``core`` so every layer's schema can use it, ``tenants`` (below ``auth``) included:
it reads only the request context's ``principal`` and the reason a token was refused
(``auth_error``), both set when ``backend.auth.context.RequestContext`` is built.

Per-object permissions are decided by the service after the object is found in scope, so
another tenant's object answers ``NOT_FOUND`` (not ``FORBIDDEN``) whatever the role.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.permission import BasePermission


class IsAuthenticated(BasePermission):
    """Guards every field that needs a caller."""

    message = "sign in first: send Authorization: Bearer <token>, or signIn in a browser"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012

    def has_permission(self, source: Any, info: strawberry.Info[Any, Any], **kwargs: Any) -> bool:
        if info.context.principal.authenticated:
            return True
        if info.context.auth_error:
            self.message = info.context.auth_error
        return False
