"""Text a GraphQL request may carry: no NUL characters, in any string argument or variable.

PostgreSQL cannot store U+0000 in text (the driver raises, the caller saw an internal error)
and SQLite stores it, where it truncates the value for C tools and hides text from search.
No name, note or address contains one, so the request is refused before anything runs, in one
place for every field: string literals in the document and every string in the variables
(input objects and lists included).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, StringValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

NUL = "\x00"
MESSAGE = "文本不得包含 NUL 字符 (U+0000) / text must not contain the NUL character (U+0000)"


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if NUL in node.value:
            self.found = True


def _in_values(value: object) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


class RefuseNulCharacters(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        # Before graphql-core's rules: an error set here is the request's answer (BAD_USER_INPUT
        # through ErrorCodes) and nothing is executed.
        found = _in_values(context.variables)
        document = context.graphql_document
        if not found and document is not None:
            literals = _Literals()
            visit(document, literals)
            found = literals.found
        if found:
            context.pre_execution_errors = [
                GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
            ]
        yield
