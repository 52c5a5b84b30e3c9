from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.awards.models import Award, AwardEvent
from services.eligibility.awards.schemas import AwardFilters


async def lock_key(session: AsyncSession, stacking_key: str) -> None:
    """Serialise every write on one stacking key until the transaction ends: a transaction-scoped advisory lock on
    the key's hash."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext(stacking_key))))


async def standing(session: AsyncSession, stacking_key: str) -> Award | None:
    query = (
        select(Award)
        .where(Award.stacking_key == stacking_key, Award.is_standing.is_(True))
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(query)).one_or_none()


async def standing_for(session: AsyncSession, stacking_keys: Sequence[str]) -> dict[str, Award]:
    """The standing award of each key that has one."""
    if not stacking_keys:
        return {}
    query = select(Award).where(Award.stacking_key.in_(list(stacking_keys)), Award.is_standing.is_(True))
    return {award.stacking_key: award for award in (await session.scalars(query)).all()}


async def stacking_key_of(session: AsyncSession, award_id: int) -> str | None:
    return (await session.execute(select(Award.stacking_key).where(Award.id == award_id))).scalar_one_or_none()


async def get(session: AsyncSession, award_id: int, *, fresh: bool = False) -> Award | None:
    """One award; `fresh` reads it again from the database (after taking its key's lock)."""
    query = select(Award).where(Award.id == award_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    return (await session.scalars(query)).one_or_none()


async def add(session: AsyncSession, award: Award) -> Award:
    session.add(award)
    return award


async def add_event(session: AsyncSession, event: AwardEvent) -> None:
    session.add(event)


async def events(session: AsyncSession, award_id: int) -> Sequence[AwardEvent]:
    query = select(AwardEvent).where(AwardEvent.award_id == award_id).order_by(AwardEvent.id)
    return (await session.scalars(query)).all()


def _filtered(query: Select[Any], filters: AwardFilters) -> Select[Any]:
    for column, value in (
        (Award.subject_type, filters.subject_type),
        (Award.subject_id, filters.subject_id),
        (Award.district_code, filters.district_code),
        (Award.measure_id, filters.measure_id),
        (Award.status, filters.status),
        (Award.year, filters.year),
        (Award.policy, filters.policy),
        (Award.recipient_kind, filters.recipient_kind),
        (Award.is_standing, filters.standing),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


async def page(session: AsyncSession, filters: AwardFilters, before_id: int | None, limit: int) -> Sequence[Award]:
    """Newest first: ids below `before_id`."""
    query = _filtered(select(Award), filters).order_by(Award.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Award.id < before_id)
    return (await session.scalars(query)).all()


async def count(session: AsyncSession, filters: AwardFilters) -> int:
    return int(await session.scalar(_filtered(select(func.count(Award.id)), filters)) or 0)


# The columns an export shows, read as plain rows: 100,000 mapped awards with their calculations took the process
# over 500 MiB.
_EXPORTED: tuple[Any, ...] = (
    Award.id,
    Award.policy,
    Award.measure_id,
    Award.subject_type,
    Award.subject_id,
    Award.subject_name,
    Award.recipient_kind,
    Award.recipient,
    Award.year,
    Award.district_code,
    Award.amount_yuan,
    Award.payable_yuan,
    Award.tops_up_award_id,
    Award.status,
    Award.is_standing,
    Award.publicised_on,
    Award.notice_ends_on,
    Award.paid_on,
)


async def every(session: AsyncSession, filters: AwardFilters, limit: int) -> Sequence[Row[Any]]:
    """The awards the filters select, oldest first (for an export), at most `limit`: rows of the exported columns,
    each read by the attribute of its name."""
    query = _filtered(select(*_EXPORTED), filters).order_by(Award.id).limit(limit)
    rows: Sequence[Row[Any]] = (await session.execute(query)).all()
    return rows


async def totals(
    session: AsyncSession, filters: AwardFilters, group_by: Sequence[str]
) -> list[tuple[dict[str, Any], int, Decimal, Decimal]]:
    """(group values, count, Σ amount, Σ payable) per group of `group_by` columns, in their order."""
    columns = [getattr(Award, name) for name in group_by]
    query = _filtered(
        select(*columns, func.count(Award.id), func.sum(Award.amount_yuan), func.sum(Award.payable_yuan)), filters
    )
    if columns:
        query = query.group_by(*columns).order_by(*columns)
    rows = (await session.execute(query)).all()
    result: list[tuple[dict[str, Any], int, Decimal, Decimal]] = []
    for row in rows:
        values = dict(zip(group_by, row[: len(group_by)], strict=True))
        number, amount, payable = row[len(group_by) :]
        if not number:
            continue
        result.append((values, int(number), Decimal(amount), Decimal(payable)))
    return result
