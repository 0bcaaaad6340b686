"""The GraphQL schema, composed from the domains' Query and Mutation classes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.tools import merge_types

from backend.alarms.schema import AlarmsMutation, AlarmsQuery, AlarmsSubscription
from backend.alarms.schema_channels import ChannelsMutation, ChannelsQuery
from backend.alarms.schema_permits import PermitsMutation, PermitsQuery
from backend.alarms.schema_rules import RulesMutation, RulesQuery
from backend.api.errors import ErrorCodes, Schema
from backend.api.input_text import RefuseNulCharacters
from backend.api.introspection import IntrospectionForSignedIn
from backend.api.limits import RequestLimits
from backend.api.privacy import PrivacyPipeline
from backend.api.scalars import DateTimeScalar
from backend.auth.schema import AuthMutation, AuthQuery
from backend.telemetry.schema import TelemetryMutation, TelemetryQuery
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
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AuthMutation,
        TenantsMutation,
        TelemetryMutation,
        AlarmsMutation,
        ChannelsMutation,
        RulesMutation,
        PermitsMutation,
    ),
)
Subscription = merge_types("Subscription", (AlarmsSubscription,))


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
