"""The GraphQL schema, composed from the domains' Query and Mutation classes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.tools import merge_types

from backend.alarms.schema import (
    AlarmsMutation,
    AlarmsQuery,
    AlarmsSubscription,
    ChannelsMutation,
    ChannelsQuery,
    PermitsMutation,
    PermitsQuery,
    RulesMutation,
    RulesQuery,
)
from backend.api.errors import ErrorCodes, Schema
from backend.api.input_text import RefuseNulCharacters
from backend.api.introspection import IntrospectionForSignedIn
from backend.api.limits import RequestLimits
from backend.api.privacy import PrivacyPipeline
from backend.api.scalars import DateTimeScalar
from backend.auth.context import GraphEdges, RequestContext
from backend.auth.schema import AuthMutation, AuthQuery, ProvisioningMutation
from backend.core.errors import Forbidden
from backend.oversight.hazards.schema import (
    HazardUnitsMutation,
    HazardUnitsQuery,
    hazard_units_of_site,
)
from backend.oversight.inspections.schema import InspectionsMutation, InspectionsQuery
from backend.oversight.notices.schema import NoticesMutation, NoticesQuery
from backend.oversight.schema import OversightQuery
from backend.oversight.supervision.schema import (
    SupervisionMutation,
    SupervisionQuery,
    supervisions_of_alarm,
)
from backend.reports.open311.schema import Open311Mutation, Open311Query
from backend.reports.schema import ReportsMutation, ReportsQuery
from backend.response.schema import (
    HandoversMutation,
    HandoversQuery,
    ReviewsQuery,
    WorkOrdersMutation,
    WorkOrdersQuery,
)
from backend.telemetry.schema import TelemetryMutation, TelemetryQuery, sensors_of_site
from tenants.schema import TenantsMutation, TenantsQuery

Query = merge_types(
    "Query",
    (
        AuthQuery,
        TenantsQuery,
        TelemetryQuery,
        AlarmsQuery,
        ChannelsQuery,
        RulesQuery,
        PermitsQuery,
        WorkOrdersQuery,
        HandoversQuery,
        ReviewsQuery,
        OversightQuery,
        HazardUnitsQuery,
        NoticesQuery,
        SupervisionQuery,
        InspectionsQuery,
        ReportsQuery,
        Open311Query,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AuthMutation,
        ProvisioningMutation,  # createTenant, first of the tenants' mutations
        TenantsMutation,
        TelemetryMutation,
        AlarmsMutation,
        ChannelsMutation,
        RulesMutation,
        PermitsMutation,
        WorkOrdersMutation,
        HandoversMutation,
        HazardUnitsMutation,
        NoticesMutation,
        SupervisionMutation,
        InspectionsMutation,
        ReportsMutation,
        Open311Mutation,
    ),
)
Subscription = merge_types("Subscription", (AlarmsSubscription,))

# Fields of a lower domain's type whose data lives in a higher one (see GraphEdges).
EDGES = GraphEdges(
    site_sensors=sensors_of_site,
    site_hazard_units=hazard_units_of_site,
    alarm_supervisions=supervisions_of_alarm,
)


class SuppliesEdges(SchemaExtension):
    """Hands each operation's context the edges assembled here, before anything resolves."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            context.edges = EDGES
        yield


class RefusesWhatTheContextRefused(SchemaExtension):
    """A request the context getter found must not run (a session cookie without the CSRF
    header) is answered FORBIDDEN before any resolver: nothing is read and nothing changes."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        context = execution.context
        refusal = context.refusal if isinstance(context, RequestContext) else None
        if refusal is not None and execution.result is None:
            execution.result = ExecutionResult(
                data=None, errors=[GraphQLError(refusal, original_error=Forbidden(refusal))]
            )
        yield


class OneRootFieldAtATime(StrawberryGraphQLCoreExecutionContext):
    """Root fields of a query run one after another, as a mutation's do: a request has one
    database session, and two root fields opening it at once would collide. Fields below the
    root still run concurrently (their loaders batch), on the connection the first opened."""

    def execute_root_grouped_field_set(
        self,
        root_type: Any,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        position_context: Any,
    ) -> Any:
        return super().execute_root_grouped_field_set(
            root_type, root_value, grouped_field_set, True, position_context
        )


def build_schema() -> strawberry.Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map={datetime: DateTimeScalar}),
        execution_context_class=OneRootFieldAtATime,
        extensions=[
            RefusesWhatTheContextRefused,
            SuppliesEdges,
            ErrorCodes,
            RefuseNulCharacters,
            IntrospectionForSignedIn,
            RequestLimits,
            PrivacyPipeline,
            lambda: QueryDepthLimiter(max_depth=12),
            lambda: MaxAliasesLimiter(max_alias_count=50),
            lambda: MaxTokensLimiter(max_token_count=5000),
        ],
    )
