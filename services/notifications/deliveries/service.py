"""Deliveries: one event to one subscription, queued as a job whose lock is the subscription and the event's
subject, so that the deliveries of one subject to one endpoint go one at a time, in the order they were queued
(a delivery waiting for its retry keeps the later ones of its subject waiting)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries import repository
from services.notifications.deliveries.models import Delivery
from services.notifications.deliveries.schemas import AttemptOut, DeliveryOut, DeliveryPage
from services.notifications.events import repository as events
from services.notifications.events.models import StoredEvent
from services.notifications.subscriptions import repository as subscriptions
from services.notifications.subscriptions.models import Subscription
from shared.auth import Principal
from shared.clock import utcnow
from shared.errors import Conflict, Forbidden, NotFound
from shared.events import EventType
from shared.pagination import next_cursor
from shared.queue import enqueue

DELIVER_TASK = "notifications:deliver"
NO_DELIVERY = "No delivery with this id."
FINISHED = frozenset({"succeeded", "dead", "cancelled"})


def _own(principal: Principal, subscription: Subscription) -> bool:
    return principal.role.value == "district" and (
        subscription.owner_role == "district" and subscription.owner_district == principal.district_code
    )


def may_read(principal: Principal, subscription: Subscription) -> bool:
    """District keys read their own district's subscriptions (and deliveries); the city and the auditor every one."""
    return principal.role.value in ("city", "auditor") or _own(principal, subscription)


def may_manage(principal: Principal, subscription: Subscription) -> bool:
    """Who may change, pause, delete, ping a subscription and redeliver its deliveries: the city every one; a
    district key its own district's; the auditor — read-only everywhere — only the subscriptions it created itself."""
    if principal.role.value == "city":
        return True
    if principal.role.value == "auditor":
        return subscription.owner_role == "auditor"
    return _own(principal, subscription)


def ensure_reads(principal: Principal, subscription: Subscription) -> None:
    if not may_read(principal, subscription):
        raise Forbidden(f"The {principal.label} principal may read only its own district's subscriptions.")


def ensure_manages(principal: Principal, subscription: Subscription) -> None:
    if may_manage(principal, subscription):
        return
    if principal.role.value == "auditor":
        raise Forbidden(
            "The auditor principal is read-only: it may change only the subscriptions it created itself, not the "
            "city's or a district's."
        )
    raise Forbidden(f"The {principal.label} principal may manage only its own district's subscriptions.")


def lock_of(subscription_id: int, subject: str) -> str:
    return f"{subscription_id}:{subject}"


async def queue(session: AsyncSession, delivery: Delivery, subject: str) -> None:
    """Queue the delivery's next chain of tries (in the caller's transaction: the job exists iff it commits)."""
    delivery.queue_job_id = await enqueue(
        session,
        DELIVER_TASK,
        {"delivery_id": delivery.id, "chain": delivery.chain},
        lock=lock_of(delivery.subscription_id, subject),
    )


def passes_filters(subscription: Subscription, event: StoredEvent) -> bool:
    """Whether the event is one the subscription asked for (its type and district were matched in SQL)."""
    if subscription.measure_ids is not None and event.data.get("measure_id") not in subscription.measure_ids:
        return False
    return subscription.subject_types is None or event.data.get("subject_type") in subscription.subject_types


async def deliver(session: AsyncSession, subscription: Subscription, event: StoredEvent) -> Delivery:
    """A delivery of `event` to `subscription`: queued, or held while the subscription is paused (a ping is never
    held: it is how an endpoint's owner checks it before resuming)."""
    held = subscription.status == "paused" and event.type != EventType.WEBHOOK_PING.value
    now = utcnow()
    delivery = Delivery(
        subscription_id=subscription.id,
        event_id=event.id,
        status="held" if held else "pending",
        chain=1,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    repository.stage(session, delivery)
    await session.flush()
    if not held:
        await queue(session, delivery, event.subject)
    return delivery


async def release_held(session: AsyncSession, subscription_id: int) -> int:
    """Queue a resumed subscription's held deliveries again, oldest first; how many."""
    held = await repository.held(session, subscription_id)
    found = await events.by_ids(session, [delivery.event_id for delivery in held])
    now = utcnow()
    for delivery in held:
        if delivery.attempts:  # held between two tries: it starts a new chain of tries
            delivery.chain += 1
            delivery.attempts = 0
        delivery.status = "pending"
        delivery.updated_at = now
        await queue(session, delivery, found[delivery.event_id].subject)
    return len(held)


def _out(delivery: Delivery, event: StoredEvent, attempts: Sequence[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        subscription_id=delivery.subscription_id,
        event_id=delivery.event_id,
        event_type=EventType(event.type),
        subject=event.subject,
        status=delivery.status,
        chain=delivery.chain,
        last_status_code=delivery.last_status_code,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "retrying" else None,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempts=list(attempts),
    )


async def _outs(session: AsyncSession, rows: Sequence[Delivery]) -> list[DeliveryOut]:
    found = await events.by_ids(session, [row.event_id for row in rows])
    attempts = await repository.attempts_of(session, [row.id for row in rows])
    return [
        _out(
            row,
            found[row.event_id],
            [AttemptOut.model_validate(attempt, from_attributes=True) for attempt in attempts[row.id]],
        )
        for row in rows
    ]


async def _readable_subscription(session: AsyncSession, principal: Principal, subscription_id: int) -> Subscription:
    subscription = await subscriptions.live(session, subscription_id)
    if subscription is None:
        raise NotFound("No subscription with this id.")
    ensure_reads(principal, subscription)
    return subscription


async def list_page(
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    status: str | None,
    after_id: int | None,
    limit: int,
) -> DeliveryPage:
    await _readable_subscription(session, principal, subscription_id)
    rows = await repository.page(session, subscription_id, status, after_id, limit)
    return DeliveryPage(
        items=await _outs(session, rows[:limit]), next_cursor=next_cursor(rows, limit, lambda row: row.id)
    )


async def redeliver(session: AsyncSession, principal: Principal, delivery_id: int) -> DeliveryOut:
    """A new chain of tries of a finished delivery (a dead one, or one sent again on purpose), under the same
    `webhook-id`; held instead while the subscription is paused."""
    delivery = await repository.get(session, delivery_id, lock=True)
    if delivery is None:
        raise NotFound(NO_DELIVERY)
    subscription = await subscriptions.live(session, delivery.subscription_id)
    if subscription is None:
        raise NotFound(NO_DELIVERY)
    ensure_manages(principal, subscription)
    if delivery.status not in FINISHED or delivery.status == "cancelled":
        raise Conflict(
            f"The delivery is {delivery.status}: only a succeeded or dead one is redelivered (a held one goes when "
            "the subscription is resumed; a pending or retrying one is still being tried)."
        )
    event = await events.get(session, delivery.event_id)
    assert event is not None  # a foreign key
    delivery.chain += 1
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.updated_at = utcnow()
    if subscription.status == "paused" and event.type != EventType.WEBHOOK_PING.value:
        delivery.status = "held"
    else:
        delivery.status = "pending"
        await queue(session, delivery, event.subject)
    await session.flush()
    return (await _outs(session, [delivery]))[0]
