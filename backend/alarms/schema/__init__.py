"""GraphQL of the alarm domain: the console (``_alarms``), rules, levels and silences
(``_rules``), work permits and incidents (``_permits``), notification channels
(``_channels``). The API assembles the Query, Mutation and Subscription classes below."""

from __future__ import annotations

from backend.alarms.schema._alarms import (
    ActorKindEnum,
    AlarmActorType,
    AlarmEvent,
    AlarmsMutation,
    AlarmsQuery,
    AlarmsSubscription,
    AlarmType,
    SeverityCount,
    SeverityEnum,
    actor_of,
    sees_event,
)
from backend.alarms.schema._channels import ChannelsMutation, ChannelsQuery
from backend.alarms.schema._permits import PermitsMutation, PermitsQuery
from backend.alarms.schema._rules import RulesMutation, RulesQuery

__all__ = [
    "ActorKindEnum",
    "AlarmActorType",
    "AlarmEvent",
    "AlarmType",
    "AlarmsMutation",
    "AlarmsQuery",
    "AlarmsSubscription",
    "ChannelsMutation",
    "ChannelsQuery",
    "PermitsMutation",
    "PermitsQuery",
    "RulesMutation",
    "RulesQuery",
    "SeverityCount",
    "SeverityEnum",
    "actor_of",
    "sees_event",
]
