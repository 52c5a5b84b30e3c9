"""Domain events: their types, the wire form every consumer reads, and the links they carry.

A producer (registry, eligibility, ranking) records an event in the same transaction as the change that causes it
(shared.outbox); the notifications service pulls them from the producer's feed and delivers them to the webhook
subscriptions that match. The `Event` model below is the one wire form: the feed's item, the notifications
service's own event listing, and the body of every webhook (Standard Webhooks: `webhook-id` is the event's `id`).

An event's `data` always holds `links.self`, the public path of the resource it concerns (under
`/api/v1/<service>/…`, as the gateway serves it), and, where the event concerns one, `measure_id`, `subject_type`
and `year`, the fields a subscription filters on. Amounts are strings with two decimals, in yuan (`…_yuan`).
"""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import quote
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema
from typing_extensions import TypeAliasType

from shared.identifiers import DistrictCode

# The public prefix of a service's routes, as the gateway serves them.
PUBLIC_PREFIX = "/api/v1"


class EventType(StrEnum):
    AWARD_PROPOSED = "award.proposed"
    AWARD_APPROVED = "award.approved"
    AWARD_PUBLICISED = "award.publicised"
    AWARD_OBJECTED = "award.objected"
    AWARD_PAID = "award.paid"
    AWARD_REJECTED = "award.rejected"
    AWARD_WITHDRAWN = "award.withdrawn"
    AWARD_SUPERSEDED = "award.superseded"
    RANKING_PUBLISHED = "ranking.published"
    RANKING_REPUBLISHED = "ranking.republished"
    PARAMETER_AMENDED = "parameter.amended"
    ENTERPRISE_NEWLY_ELIGIBLE = "enterprise.newly_eligible"
    ENTERPRISE_NO_LONGER_ELIGIBLE = "enterprise.no_longer_eligible"
    FIGURES_VERIFIED = "figures.verified"
    POLICY_EXPIRING = "policy.expiring"
    # Sent by a subscription's test endpoint only: never recorded by a producer, never subscribable.
    WEBHOOK_PING = "webhook.ping"

    @property
    def description(self) -> str:
        return EVENT_DESCRIPTIONS[self]

    @property
    def subscribable(self) -> bool:
        return self is not EventType.WEBHOOK_PING

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler.resolve_ref_schema(handler(schema))
        json_schema["title"] = "EventType"
        json_schema["description"] = "What happened: " + "; ".join(
            f"`{event_type.value}` {EVENT_DESCRIPTIONS[event_type]}" for event_type in cls
        )
        json_schema["x-enum-varnames"] = [event_type.name for event_type in cls]
        json_schema["x-enum-descriptions"] = [EVENT_DESCRIPTIONS[event_type] for event_type in cls]
        json_schema["examples"] = [EventType.AWARD_PAID.value]
        return json_schema


EVENT_DESCRIPTIONS: dict[EventType, str] = {
    EventType.AWARD_PROPOSED: "an award was proposed (eligibility: the award ledger; it may supersede another)",
    EventType.AWARD_APPROVED: "a proposed award was approved",
    EventType.AWARD_PUBLICISED: "an approved award was published for public notice (公示)",
    EventType.AWARD_OBJECTED: "an objection within the notice window sent a publicised award back to proposed",
    EventType.AWARD_PAID: "a publicised award was paid after its notice window",
    EventType.AWARD_REJECTED: "an open award was rejected",
    EventType.AWARD_WITHDRAWN: "an open award was withdrawn",
    EventType.AWARD_SUPERSEDED: "a higher award for the same subject superseded an open award (就高不重复)",
    EventType.RANKING_PUBLISHED: "a year's district ranking was published for the first time (one event per ranked "
    "district, with its rank and award)",
    EventType.RANKING_REPUBLISHED: "a year's published district ranking was replaced by a new run (one event per "
    "ranked district, with its rank and award before and after)",
    EventType.PARAMETER_AMENDED: "a policy parameter was given a new value from a date",
    EventType.ENTERPRISE_NEWLY_ELIGIBLE: "the nightly screening found an enterprise eligible for a measure it was "
    "not eligible for in the previous screening of the same year",
    EventType.ENTERPRISE_NO_LONGER_ELIGIBLE: "the nightly screening found an enterprise no longer eligible for a "
    "measure it was eligible for in the previous screening of the same year",
    EventType.FIGURES_VERIFIED: "the city verified a record's yearly figures (an enterprise's, a cluster's or a "
    "star building's year)",
    EventType.POLICY_EXPIRING: "a registered policy reaches the end of its validity soon",
    EventType.WEBHOOK_PING: "a test event sent by a subscription's ping endpoint (not subscribable)",
}

SUBSCRIBABLE_EVENT_TYPES: tuple[EventType, ...] = tuple(t for t in EventType if t.subscribable)


class EventSubjectType(StrEnum):
    """The kind of thing an event concerns (`data.subject_type`), the award ledger's subject types."""

    ENTERPRISE = "enterprise"
    CLUSTER = "cluster"
    BUILDING = "building"
    PROJECT = "project"
    DISTRICT = "district"


class EventSource(StrEnum):
    """The service that recorded an event (the notifications service itself sends only pings)."""

    REGISTRY = "registry"
    ELIGIBILITY = "eligibility"
    RANKING = "ranking"
    NOTIFICATIONS = "notifications"


class EventLinks(BaseModel):
    """Where the resource an event concerns is read."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    self_: str = Field(
        alias="self",
        description="The public path of the resource the event concerns, under `/api/v1/<service>/`; read it with "
        "an API key through the gateway.",
        examples=["/api/v1/eligibility/awards/42"],
    )


# A type's own field of an event: a string (amounts with two places, dates, codes), a number, a boolean or null, or a
# list or table of those (a parameter's value table). Typed, so that a generated client reads every field.
EventScalar = TypeAliasType("EventScalar", str | int | float | bool | None)
EventValue = TypeAliasType("EventValue", EventScalar | list[EventScalar] | dict[str, EventScalar])


class EventData(BaseModel):
    """The event's payload: always `links`; the fields a subscription filters on where they apply; and the type's
    own fields (e.g. `status`, `amount_yuan`, `rank`). Unknown fields may appear: ignore what you do not read."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, EventValue]

    links: EventLinks
    measure_id: str | None = Field(
        default=None, description="The measure it concerns, e.g. `M06`, if any.", examples=["M03"]
    )
    subject_type: EventSubjectType | None = Field(default=None, description="The kind of subject it concerns, if any.")
    year: int | None = Field(default=None, description="The year it concerns, if any.", examples=[2025])


EVENT_EXAMPLE: dict[str, Any] = {
    "id": "0b6f1f5e-8c9a-4d2e-9a57-3f1f0c2a7d41",
    "type": "award.paid",
    "occurred_at": "2026-03-02T08:15:00Z",
    "source": "eligibility",
    "district_code": "500103",
    "subject": "award:42",
    "data": {
        "links": {"self": "/api/v1/eligibility/awards/42"},
        "measure_id": "M03",
        "subject_type": "enterprise",
        "year": 2025,
        "award_id": 42,
        "subject_id": "91500103MA5U7XXXXH",
        "from_status": "publicised",
        "status": "paid",
        "amount_yuan": "200000.00",
        "payable_yuan": "200000.00",
        "effective_on": "2026-03-02",
    },
}


class Event(BaseModel):
    """A domain event, as the producers record it and as every webhook delivers it (the body; `webhook-id` is its
    `id`). At least once: a receiver dedupes by `id`. Per `subject`, events arrive in the order they happened."""

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})

    id: UUID = Field(description="The event's id: the same on every delivery attempt and redelivery.")
    type: EventType
    occurred_at: datetime = Field(description="When the change happened (UTC).")
    source: EventSource = Field(description="The service that recorded it.")
    district_code: DistrictCode | None = Field(
        description="The district it concerns; null for what concerns no one district (e.g. a parameter)."
    )
    subject: str = Field(
        description="What it is about, as `<kind>:<id>` (the ordering key: per subject, in order of creation).",
        examples=["award:42", "ranking:2025", "enterprise:91500103MA5U7XXXXH"],
    )
    data: EventData


# ---- building an event's data ----------------------------------------------------------------------------------


def public_path(service: str, *parts: object) -> str:
    """The public path of a resource of `service`: `/api/v1/<service>/<part>/<part>…`, each part URL-quoted."""
    return "/".join([PUBLIC_PREFIX, service, *(quote(str(part), safe="") for part in parts)])


def yuan(amount: Decimal) -> str:
    """An amount as the events write it: a string with two decimals."""
    return f"{amount:.2f}"


def event_data(
    self_path: str,
    *,
    measure_id: str | None = None,
    subject_type: str | None = None,
    year: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An event's `data`: its link, the filter fields (omitted when None) and the type's own JSON fields."""
    data: dict[str, Any] = {"links": {"self": self_path}}
    for name, value in (("measure_id", measure_id), ("subject_type", subject_type), ("year", year)):
        if value is not None:
            data[name] = value
    data.update(fields)
    return data
