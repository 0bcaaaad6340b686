"""Strawberry permission classes, declared where each field is declared.

``IsAuthenticated`` guards every field that needs a caller. Per-object permissions are decided
by the service after the object is found in scope, so another tenant's object answers
``NOT_FOUND`` (not ``FORBIDDEN``) whatever the role.
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from backend.auth.context import Info


class IsAuthenticated(BasePermission):
    message = "sign in first: send Authorization: Bearer <token>"
    error_extensions = {"code": "UNAUTHENTICATED"}  # noqa: RUF012

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.principal.authenticated:
            return True
        if info.context.auth_error:
            self.message = info.context.auth_error
        return False
