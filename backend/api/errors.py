"""Map errors to GraphQL ``extensions.code`` in one place.

Our own errors carry their code; GraphQL validation and coercion errors are the caller's input
(``BAD_USER_INPUT``); anything else is logged and answered with an opaque message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from backend.core.errors import AnjianError, ScopeRequired

log = logging.getLogger("anjian.api")


def code_for(error: GraphQLError) -> str:
    original = error.original_error
    if isinstance(original, ScopeRequired):
        return "INTERNAL_SERVER_ERROR"
    if isinstance(original, AnjianError):
        return original.code
    if original is None or isinstance(original, GraphQLError):
        # Validation, coercion and permission-class errors: the code they carry, else input.
        source = original if isinstance(original, GraphQLError) else error
        existing = (source.extensions or {}).get("code")
        return str(existing) if existing else "BAD_USER_INPUT"
    return "INTERNAL_SERVER_ERROR"


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        for error in result.errors:
            code = code_for(error)
            if code == "INTERNAL_SERVER_ERROR":
                log.error("unhandled error in %s", error.path, exc_info=error.original_error)
                error.message = "internal error"
            details = (
                error.original_error.details
                if isinstance(error.original_error, AnjianError)
                else {}
            )
            error.extensions = {**(error.extensions or {}), **details, "code": code}
