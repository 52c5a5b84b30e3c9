from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.deliveries.models import Delivery, DeliveryAttempt


def stage(session: AsyncSession, delivery: Delivery) -> None:
    session.add(delivery)


def stage_attempt(session: AsyncSession, attempt: DeliveryAttempt) -> None:
    session.add(attempt)


async def get(session: AsyncSession, delivery_id: int, *, lock: bool = False) -> Delivery | None:
    statement = select(Delivery).where(Delivery.id == delivery_id)
    if lock:  # the row as it is once locked, even if this session read it before
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def page(
    session: AsyncSession, subscription_id: int, status: str | None, after_id: int | None, limit: int
) -> Sequence[Delivery]:
    statement = select(Delivery).where(Delivery.subscription_id == subscription_id)
    if status is not None:
        statement = statement.where(Delivery.status == status)
    if after_id is not None:
        statement = statement.where(Delivery.id > after_id)
    return (await session.scalars(statement.order_by(Delivery.id).limit(limit + 1))).all()


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    statement = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.id)
    )
    for attempt in (await session.scalars(statement)).all():
        found[attempt.delivery_id].append(attempt)
    return found


async def held(session: AsyncSession, subscription_id: int) -> Sequence[Delivery]:
    """The subscription's held deliveries, oldest first (the order they are queued again in), locked."""
    statement = (
        select(Delivery)
        .where(Delivery.subscription_id == subscription_id, Delivery.status == "held")
        .order_by(Delivery.id)
        .with_for_update()
    )
    return (await session.scalars(statement)).all()


async def set_fields(session: AsyncSession, delivery_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))


async def cancel_open(session: AsyncSession, subscription_id: int, values: dict[str, Any]) -> None:
    """Every delivery of the subscription not finished yet: cancelled (the subscription is deleted)."""
    await session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription_id, Delivery.status.in_(("pending", "retrying", "held")))
        .values(**values)
    )


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    statement = select(Delivery.status, func.count()).group_by(Delivery.status)
    return {status: int(count) for status, count in (await session.execute(statement)).all()}
