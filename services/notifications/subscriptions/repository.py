from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.subscriptions.models import Subscription


def stage(session: AsyncSession, subscription: Subscription) -> None:
    session.add(subscription)


async def live(session: AsyncSession, subscription_id: int, *, lock: bool = False) -> Subscription | None:
    """The subscription unless deleted; `lock`: FOR UPDATE, for a change."""
    statement = select(Subscription).where(Subscription.id == subscription_id, Subscription.deleted_at.is_(None))
    if lock:
        # The row as it is now (locked), not as an earlier read of this session left it.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def page(
    session: AsyncSession, owner_district: str | None, after_id: int | None, limit: int
) -> Sequence[Subscription]:
    """Live subscriptions in id order after `after_id`; `owner_district`: only those of that district's keys."""
    statement = select(Subscription).where(Subscription.deleted_at.is_(None))
    if owner_district is not None:
        statement = statement.where(
            Subscription.owner_role == "district", Subscription.owner_district == owner_district
        )
    if after_id is not None:
        statement = statement.where(Subscription.id > after_id)
    return (await session.scalars(statement.order_by(Subscription.id).limit(limit + 1))).all()


async def matching(session: AsyncSession, event_type: str, district_code: str | None) -> Sequence[Subscription]:
    """Live subscriptions to `event_type` whose district filter lets an event of `district_code` through, locked
    FOR SHARE until the caller's commit: a resume (or a pause) of one of them waits for the deliveries made here,
    or these see it."""
    statement = (
        select(Subscription)
        .where(Subscription.deleted_at.is_(None), Subscription.event_types.contains([event_type]))
        .order_by(Subscription.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if district_code is not None:
        statement = statement.where(
            or_(Subscription.district_code.is_(None), Subscription.district_code == district_code)
        )
    return (await session.scalars(statement)).all()


async def for_delivery(session: AsyncSession, subscription_id: int) -> Subscription | None:
    """The subscription (deleted or not) FOR UPDATE: a delivery's outcome changes its failure count."""
    statement = (
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).first()


async def set_fields(session: AsyncSession, subscription_id: int, values: dict[str, Any]) -> None:
    await session.execute(update(Subscription).where(Subscription.id == subscription_id).values(**values))


async def count_live(session: AsyncSession, owner_role: str, owner_district: str | None) -> int:
    statement = select(func.count()).where(
        Subscription.deleted_at.is_(None),
        Subscription.owner_role == owner_role,
        Subscription.owner_district.is_(None)
        if owner_district is None
        else Subscription.owner_district == owner_district,
    )
    return int((await session.execute(statement)).scalar_one())


# pg_advisory_xact_lock's class for an owner's subscriptions (any constant the other locks of this database do not use).
_OWNER_LOCK_CLASS = 0x5B5C


async def lock_owner(session: AsyncSession, owner_role: str, owner_district: str | None) -> None:
    """Until the caller's commit, no other transaction counts or adds this owner's subscriptions."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:class, hashtext(:owner))"),
        {"class": _OWNER_LOCK_CLASS, "owner": f"{owner_role}:{owner_district or ''}"},
    )
