"""What one GraphQL request may cost: a budget known before it runs, operations in flight per
caller, and the size of the answer.

The cost model
--------------

A request's cost is the number of result rows it can produce — one per object in the answer
(a telemetry bucket, a sensor, its latest reading, an alarm) — plus a fixed price for every
store query a field makes of its own, summed over every field of the operation and multiplied
through the lists above it. Rows, not fields, because what exhausted the server was objects:
each one is resolved, passed through the privacy pipeline and serialised in this process, so
time and memory grow with the rows answered (50 ten-day charts at 87 s were ~500,000 buckets,
44 MB of JSON, 45–180 s of one core). Scalars are free: their number per object is bounded by
the document's token limit.

How many items a list field yields must be known from the document alone:

* a field may declare it in its Strawberry ``metadata`` as ``list_size`` (an int, or a function
  of the field's coerced arguments keyed by their GraphQL names — ``telemetry`` computes its
  buckets from ``from``, ``to`` and ``bucketSeconds``);
* else its ``first`` argument, the page size, is the count (default pages included);
* else the field is a list whose length the document does not say (a tenant's sites, a site's
  sensors): it counts as its nominal size below — the size of a large real object, so the
  estimate of a real console page is honest. Data bigger than the nominal size is still
  stopped while running by the ClickHouse result limits and the response-size limit.

A field that declares ``store_queries`` in its metadata (a root field reading ClickHouse) adds
``QUERY_COST`` rows per query: a round trip and a look-up of its own cost about as much as
serving that many rows, so 50 aliased one-bucket charts are not free.

Fields under the same response key are merged (as execution does); fragments are expanded;
``@skip``/``@include`` are honoured; fragments on other types of an abstract field all count
(an upper bound). A field whose arguments cannot be coerced counts nothing: execution refuses
it before its resolver runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)
from graphql.execution.values import get_argument_values, get_directive_values, get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from backend.auth.throttle import client_address
from backend.core.errors import AnjianError, LimitExceeded, QueryTooCostly, RateLimited
from backend.core.limits import Limits

log = logging.getLogger("anjian.api.limits")

# Rows a field's own store query is priced at (see the module docstring). Measured with the
# embedded engine on 2 cores: a chart of one bucket answers in ~40 ms, one of 9,931 buckets in
# ~2.3 s, so a bucket costs ~230 µs and a chart's own look-ups and queries ~170 buckets' worth,
# which its three declared queries at 100 each price with a margin.
QUERY_COST = 100

# Items assumed of a list whose length the document does not say. "Type.field" → items.
NOMINAL_LIST_SIZES: Mapping[str, int] = {
    # An enterprise's sites (regulators page through their own views); a standard-plan
    # site's sensor quota; zones and devices of a large site.
    "Query.sites": 10,
    "Site.sensors": 1000,
    "Site.zones": 100,
    "SiteStatus.devices": 1000,
    "NewDeviceType.sensors": 1000,
}
DEFAULT_LIST_SIZE = 100  # the page size the paged fields default to

# The retry hint of a refusal for too many operations in flight: operations end within a few
# seconds (their store queries are limited to the ClickHouse execution limit).
RETRY_AFTER_SECONDS = 1

_DEFINITION = "strawberry-definition"  # where Strawberry keeps a field's definition


@dataclass(frozen=True)
class Cost:
    total: int
    costliest: str | None  # the response key of the costliest root field
    costliest_total: int


def _metadata(field: GraphQLField) -> Mapping[str, Any]:
    definition = (field.extensions or {}).get(_DEFINITION)
    return getattr(definition, "metadata", None) or {}


def _included(node: FieldNode | FragmentSpreadNode | InlineFragmentNode, variables: Any) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include.get("if") is False)


class _Estimator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Any,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def collect(
        self,
        parent: GraphQLNamedType,
        selection_sets: list[SelectionSetNode],
        into: dict[str, list[tuple[GraphQLNamedType, FieldNode]]],
        seen: frozenset[str] = frozenset(),
    ) -> dict[str, list[tuple[GraphQLNamedType, FieldNode]]]:
        """Fields by response key, each with the type it is looked up on."""
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if not _included(selection, self.variables):  # type: ignore[arg-type]
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    into.setdefault(key, []).append((parent, selection))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    on = self.schema.get_type(condition.name.value) if condition else parent
                    self.collect(on or parent, [selection.selection_set], into, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    on = self.schema.get_type(fragment.type_condition.name.value)
                    self.collect(on or parent, [fragment.selection_set], into, seen | {name})
        return into

    def fields_cost(
        self, parent: GraphQLNamedType, selection_sets: list[SelectionSetNode]
    ) -> dict[str, int]:
        """The cost of each response key of these selections on ``parent``."""
        costs: dict[str, int] = {}
        for key, entries in self.collect(parent, selection_sets, {}).items():
            costs[key] = self.field_cost(entries)
        return costs

    def field_cost(self, entries: list[tuple[GraphQLNamedType, FieldNode]]) -> int:
        owner, node = entries[0]
        if not isinstance(owner, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        field = owner.fields.get(node.name.value)
        if field is None:  # __typename and the introspection fields
            return 0
        try:
            arguments = get_argument_values(field, node, self.variables)
        except (GraphQLError, ValueError, TypeError):
            # Execution refuses the field (BAD_USER_INPUT) before its resolver runs.
            return 0
        metadata = _metadata(field)
        nullable = get_nullable_type(field.type)
        items = self.list_size(owner, node, field, arguments) if is_list_type(nullable) else 1
        named = get_named_type(field.type)
        per_item = 0
        if is_composite_type(named):
            sub_selections = [n.selection_set for _, n in entries if n.selection_set]
            per_item = 1 + sum(self.fields_cost(named, sub_selections).values())
        return int(metadata.get("store_queries", 0)) * QUERY_COST + items * per_item

    def list_size(
        self,
        owner: GraphQLNamedType,
        node: FieldNode,
        field: GraphQLField,
        arguments: dict[str, Any],
    ) -> int:
        declared: int | Callable[[Mapping[str, Any]], int] | None = _metadata(field).get(
            "list_size"
        )
        if callable(declared):
            return max(0, int(declared(_graphql_names(field, arguments))))
        if declared is not None:
            return max(0, int(declared))
        first = arguments.get("first")
        if isinstance(first, int):
            return max(0, first)
        return NOMINAL_LIST_SIZES.get(f"{owner.name}.{node.name.value}", DEFAULT_LIST_SIZE)


def _graphql_names(field: GraphQLField, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments keyed by their GraphQL names (graphql-core keys them by ``out_name``)."""
    out = {arg.out_name or name: name for name, arg in field.args.items()}
    return {out.get(key, key): value for key, value in arguments.items()}


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> Cost | None:
    """The request's cost, or None when execution will refuse it before running anything
    (no such operation, variables that do not coerce)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):  # errors: execution answers them without running a field
        return None
    root = _root_type(schema, operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    costs = _Estimator(schema, fragments, coerced).fields_cost(root, [operation.selection_set])
    costliest = max(costs, key=costs.__getitem__, default=None)
    return Cost(sum(costs.values()), costliest, costs.get(costliest, 0) if costliest else 0)


def _root_type(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> GraphQLObjectType | None:
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]


# --- operations in flight ----------------------------------------------------------------------


class InFlight:
    """Operations running in this process: how many per principal, how many and what they
    cost in all. The event loop is the only writer, so plain counters suffice."""

    def __init__(self) -> None:
        self.by_key: dict[str, int] = {}
        self.total = 0
        self.cost = 0

    def enter(self, key: str, cost: int, limits: Limits) -> None:
        held = self.by_key.get(key, 0)
        if held >= limits.graphql_max_in_flight_per_principal:
            raise RateLimited(
                f"too many requests at once: {held} of yours are still running (at most "
                f"{limits.graphql_max_in_flight_per_principal}); retry when one has answered",
                retry_after_seconds=RETRY_AFTER_SECONDS,
                limit="graphql_max_in_flight_per_principal",
            )
        if self.total >= limits.graphql_max_in_flight:
            raise RateLimited(
                f"the server is busy ({self.total} requests running); retry shortly",
                retry_after_seconds=RETRY_AFTER_SECONDS,
                limit="graphql_max_in_flight",
            )
        # A request alone is admitted whatever its cost (the budget bounds that), so a big
        # request is delayed by others' but never refused forever.
        if self.cost and self.cost + cost > limits.graphql_max_cost_in_flight:
            raise RateLimited(
                f"the server is busy answering {self.cost:,} rows (at most "
                f"{limits.graphql_max_cost_in_flight:,} at once) and this request costs "
                f"{cost:,}; retry shortly",
                retry_after_seconds=RETRY_AFTER_SECONDS,
                limit="graphql_max_cost_in_flight",
            )
        self.by_key[key] = held + 1
        self.total += 1
        self.cost += cost

    def leave(self, key: str, cost: int) -> None:
        held = self.by_key.get(key, 0) - 1
        if held > 0:
            self.by_key[key] = held
        else:
            self.by_key.pop(key, None)
        self.total -= 1
        self.cost -= cost


IN_FLIGHT = InFlight()


def principal_key(context: Any) -> str:
    """Whom the in-flight limit counts: the signed-in principal, else the client's address
    (through a proxy the settings trust, the address it forwards: else everyone behind one
    proxy would share one caller's limit)."""
    principal = getattr(context, "principal", None)
    if principal is not None and principal.id is not None:
        return f"{principal.kind}:{principal.id}"
    connection = getattr(context, "request", None) or getattr(context, "websocket", None)
    if connection is None:
        return "address:unknown"
    runtime = getattr(context, "runtime", None)
    trusted = runtime.settings.trusted_proxies if runtime is not None else ()
    peer = connection.client.host if connection.client else None
    address = client_address(peer, connection.headers.get("x-forwarded-for"), trusted)
    return f"address:{address}"


# --- the extension -----------------------------------------------------------------------------


def _refusal(error: AnjianError) -> ExecutionResult:
    return ExecutionResult(data=None, errors=[GraphQLError(error.message, original_error=error)])


class RequestLimits(SchemaExtension):
    """Refuses an operation over the cost budget before it runs (``QUERY_TOO_COSTLY``), one
    over its caller's operations in flight or the process's operations or cost in flight
    (``RATE_LIMITED``), and an answer over the response-size limit (``LIMIT_EXCEEDED``).
    Subscriptions are long-lived and outside the in-flight counts; their events are small."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        runtime = getattr(context.context, "runtime", None)
        limits: Limits = runtime.settings.limits if runtime is not None else Limits()
        document = context.graphql_document
        if document is None or context.result is not None:
            yield
            return
        cost = estimate_cost(
            context.schema._schema, document, context.operation_name, context.variables
        )
        if cost is not None and cost.total > limits.graphql_cost_budget:
            log.warning(
                "refused a request costing %d (budget %d, costliest field %s: %d) from %s",
                cost.total,
                limits.graphql_cost_budget,
                cost.costliest,
                cost.costliest_total,
                principal_key(context.context),
            )
            context.result = _refusal(
                QueryTooCostly(
                    f"this request would cost {cost.total:,} rows (telemetry buckets and list "
                    f"items over all its fields) and the budget is {limits.graphql_cost_budget:,}"
                    f"; its costliest field is {cost.costliest} ({cost.costliest_total:,}). Ask "
                    "for fewer fields, shorter ranges, larger buckets or smaller pages",
                    cost=cost.total,
                    budget=limits.graphql_cost_budget,
                )
            )
            yield
            return
        counted = context.operation_type is not StrawberryOperationType.SUBSCRIPTION
        key = principal_key(context.context)
        weight = cost.total if cost is not None else 0
        if counted:
            try:
                IN_FLIGHT.enter(key, weight, limits)
            except RateLimited as refused:
                log.warning("refused a request from %s: %s", key, refused.message)
                context.result = _refusal(refused)
                yield
                return
        try:
            yield
        finally:
            if counted:
                IN_FLIGHT.leave(key, weight)
        self._limit_response(limits)

    def _limit_response(self, limits: Limits) -> None:
        result = self.execution_context.result
        data = getattr(result, "data", None)
        if data is None:
            return
        size = len(msgspec.json.encode(data))
        if size <= limits.graphql_max_response_bytes:
            return
        log.warning(
            "withheld a %d-byte answer (limit %d) from %s",
            size,
            limits.graphql_max_response_bytes,
            principal_key(self.execution_context.context),
        )
        refusal = LimitExceeded(
            f"the answer would be {size:,} bytes, over the limit of "
            f"{limits.graphql_max_response_bytes:,} bytes (max_response_bytes); ask for "
            "fewer fields, shorter ranges or smaller pages",
            limit="max_response_bytes",
            value=limits.graphql_max_response_bytes,
        )
        # In place: Strawberry answers with the result object execution returned.
        result.data = None
        result.errors = [GraphQLError(refusal.message, original_error=refusal)]
