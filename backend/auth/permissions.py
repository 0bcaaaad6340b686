"""Strawberry permission classes, declared where each field is declared.

``IsAuthenticated`` guards every field that needs a caller; it is defined in
``backend.core.graphql`` so that ``tenants`` (below ``auth``) can use it too.
"""

from __future__ import annotations

from backend.core.graphql import IsAuthenticated

__all__ = ["IsAuthenticated"]
