from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypeAliasType

from shared.events import EventSubjectType, EventType
from shared.identifiers import DistrictCode, Storable
from shared.policy.catalogue import MeasureId

SubscriptionStatus = TypeAliasType(
    "SubscriptionStatus",
    Annotated[
        Literal["active", "paused"],
        Field(title="SubscriptionStatus", description="`active`: events are delivered; `paused`: they are held"),
    ],
)
PausedReason = TypeAliasType(
    "PausedReason",
    Annotated[
        Literal["manual", "failing"],
        Field(
            title="PausedReason",
            description="`manual`: paused by a PATCH; `failing`: paused because its deliveries kept dying",
        ),
    ],
)
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Storable]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    Storable,
    Field(
        description="The endpoint: an `https://` or `http://` URL (both schemes are accepted for any address that "
        "passes the guard; use `https://` on the Internet: the events carry names, codes and amounts), no user name "
        "or password, no fragment, a host that resolves to public addresses only (or to the networks this deployment "
        "allows, `NOTIFICATIONS_ALLOWED_NETWORKS`), on port 443 or 80 (`NOTIFICATIONS_ALLOWED_PORTS`; any port "
        "inside an allowed network). Checked when written and again before every try. Redirects are not followed.",
        examples=["https://it.example.gov.cn/hooks/producer-services"],
    ),
]


def _subscribable(types: list[EventType]) -> list[EventType]:
    if EventType.WEBHOOK_PING in types:
        raise ValueError("webhook.ping is sent by the ping endpoint only and is not subscribable")
    if len(set(types)) != len(types):
        raise ValueError("each event type at most once")
    return types


T = TypeVar("T")


def _distinct(values: list[T] | None) -> list[T] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("each value at most once")
    return values


EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EventType), description="The events to receive (every type but `webhook.ping`)"),
    AfterValidator(_subscribable),
]
MeasureFilter = Annotated[
    list[MeasureId] | None,
    Field(
        min_length=1,
        max_length=40,
        description="Only events about these measures (`data.measure_id`); set, it drops every event that has no "
        "`data.measure_id` (`figures.verified`, `policy.expiring`, a general `parameter.amended`); absent or null: "
        "any, including events that concern no measure",
    ),
    AfterValidator(_distinct),
]
SubjectTypeFilter = Annotated[
    list[EventSubjectType] | None,
    Field(
        min_length=1,
        max_length=len(EventSubjectType),
        description="Only events about these kinds of subject (`data.subject_type`); set, it drops every event that "
        "has no `data.subject_type` (`parameter.amended`, `policy.expiring`); absent or null: any",
    ),
    AfterValidator(_distinct),
]
DISTRICT_FILTER = (
    "Only events of this district (and those that concern no one district: `parameter.amended` and "
    "`policy.expiring`, which reach every district's subscription). A district key's "
    "subscription is always its own district's (set for it when absent); the city and the auditor may leave it "
    "out for every district's events."
)


class SubscriptionCreate(BaseModel):
    """A webhook subscription: where to send which events."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes
    measure_ids: MeasureFilter = None
    subject_types: SubjectTypeFilter = None
    district_code: DistrictCode | None = Field(default=None, description=DISTRICT_FILTER)
    description: Description | None = Field(default=None, description="What the endpoint is, for people")


class SubscriptionPatch(BaseModel):
    """The fields to change; those left out stay. `status: active` resumes a paused subscription (its held
    deliveries are queued again, in order); `status: paused` holds its deliveries until then."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    measure_ids: MeasureFilter = None
    subject_types: SubjectTypeFilter = None
    district_code: DistrictCode | None = Field(default=None, description=DISTRICT_FILTER)
    description: Description | None = None
    status: SubscriptionStatus | None = None


class SubscriptionOut(BaseModel):
    id: int
    url: str
    event_types: list[EventType]
    measure_ids: list[MeasureId] | None
    subject_types: list[EventSubjectType] | None
    district_code: DistrictCode | None = Field(description="The district whose events it receives; null: every one")
    description: str | None
    status: SubscriptionStatus
    paused_reason: PausedReason | None = Field(
        description="Why it is paused: `manual` (a PATCH) or `failing` (its tries kept failing, or its deliveries "
        "kept dying); null when active"
    )
    consecutive_dead: int = Field(description="Deliveries that died in a row (reset by a success or a resume)")
    consecutive_failures: int = Field(
        description="Tries that failed in a row, pings excluded (reset by a success or a resume); at "
        "`NOTIFICATIONS_PAUSE_AFTER_FAILED_TRIES` the subscription is paused (`failing`)"
    )
    version: int = Field(description="Raised by every change; also the `ETag`")
    created_by: str = Field(description="The principal that created it, e.g. `district:500103`")
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    """The subscription created, with its signing secret: shown this once, never again."""

    secret: str = Field(
        description="The Standard Webhooks signing secret (`whsec_` + base64): verify each delivery's "
        "`webhook-signature` with it. Shown only in this answer: store it now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut] = Field(description="Subscriptions in id order")
    next_cursor: str | None
