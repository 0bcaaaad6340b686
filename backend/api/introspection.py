"""Schema introspection for signed-in callers only (unless the platform opens it).

The schema is the map of every query and mutation: an anonymous visitor of a public server has
no use for it and an attacker a great one. Signed-in users keep it (GraphiQL's completion and
docs work after sign-in), and ``ANJIAN_GRAPHQL_PUBLIC_INTROSPECTION=true`` opens it to all.
``__typename`` is not introspection of the schema and stays allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import SchemaExtension

INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
MESSAGE = (
    "查看接口结构（内省）需要先登录 / schema introspection is for signed-in users: sign in "
    "with the login mutation and send Authorization: Bearer <token>"
)


class NoAnonymousIntrospection(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(MESSAGE, nodes=[node], extensions={"code": "UNAUTHENTICATED"})
            )


class IntrospectionForSignedIn(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        runtime = getattr(context, "runtime", None)
        public = bool(runtime is not None and runtime.settings.public_introspection)
        if not public and not (principal is not None and principal.authenticated):
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                NoAnonymousIntrospection,
            )
        yield
