import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from shared.events import EventType

STATUS_MEANINGS = (
    "`pending`: queued for its next try; `retrying`: a try failed and the next is scheduled (`next_attempt_at`); "
    "`held`: the subscription is paused (queued again when it is resumed); `succeeded`: the endpoint answered 2xx; "
    "`dead`: the last try of the schedule failed (redeliver it by hand); `cancelled`: the subscription was deleted "
    "first."
)
DeliveryStatus = TypeAliasType(
    "DeliveryStatus",
    Annotated[
        Literal["pending", "retrying", "held", "succeeded", "dead", "cancelled"],
        Field(title="DeliveryStatus", description=STATUS_MEANINGS),
    ],
)
AttemptOutcome = TypeAliasType(
    "AttemptOutcome",
    Annotated[
        Literal["succeeded", "failed"],
        Field(title="AttemptOutcome", description="`succeeded`: the endpoint answered 2xx; `failed`: anything else"),
    ],
)


class AttemptOut(BaseModel):
    """One try: what the endpoint answered, or why nothing was answered."""

    chain: int = Field(description="1 for the tries made as the event arrived; each manual redelivery adds one")
    attempt: int = Field(description="The try's number within its chain, from 1")
    outcome: AttemptOutcome
    status_code: int | None = Field(description="The endpoint's HTTP status; null when none came")
    latency_ms: int | None = Field(description="From sending to the answer (or the failure), in milliseconds")
    error: str | None = Field(description="Why the try failed without an answer (timeout, refused address, …)")
    at: datetime


class DeliveryOut(BaseModel):
    """One event sent (or to be sent) to one subscription, with every try."""

    id: int
    subscription_id: int
    event_id: uuid.UUID = Field(description="The event's id, sent as `webhook-id` on every try")
    event_type: EventType
    subject: str = Field(description="The event's subject: deliveries of one subject arrive in order")
    status: DeliveryStatus
    chain: int
    last_status_code: int | None
    next_attempt_at: datetime | None = Field(description="When the next try is due, while `retrying`")
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptOut] = Field(description="Every try, oldest first")


class DeliveryPage(BaseModel):
    items: list[DeliveryOut] = Field(description="Deliveries in id order (the order the events arrived)")
    next_cursor: str | None
