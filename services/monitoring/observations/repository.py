from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from services.monitoring.observations.models import Observation


async def latest(session: AsyncSession, indicator_id: str, year: int, period: str) -> Observation | None:
    statement = (
        select(Observation)
        .where(Observation.indicator_id == indicator_id, Observation.year == year, Observation.period == period)
        .order_by(Observation.revision.desc())
        .limit(1)
    )
    return (await session.scalars(statement)).first()


def stage(session: AsyncSession, observation: Observation) -> None:
    session.add(observation)


async def revisions(session: AsyncSession, indicator_id: str, year: int, period: str) -> Sequence[Observation]:
    statement = (
        select(Observation)
        .where(Observation.indicator_id == indicator_id, Observation.year == year, Observation.period == period)
        .order_by(Observation.revision)
    )
    return (await session.scalars(statement)).all()


def _current() -> Select[Observation]:
    # The newest revision of each (indicator, year, period).
    return (
        select(Observation)
        .ext(distinct_on(Observation.indicator_id, Observation.year, Observation.period))
        .order_by(Observation.indicator_id, Observation.year, Observation.period, Observation.revision.desc())
    )


async def current_page(
    session: AsyncSession, indicator_id: str, after: tuple[int, str] | None, limit: int
) -> Sequence[Observation]:
    """The current revisions of one indicator, by (year, period), after the cursor's key."""
    inner = _current().where(Observation.indicator_id == indicator_id).subquery()
    current = select(Observation).join(inner, Observation.id == inner.c.id)
    if after is not None:
        current = current.where(func.row(Observation.year, Observation.period) > func.row(*after))
    statement = current.order_by(Observation.year, Observation.period).limit(limit + 1)
    return (await session.scalars(statement)).all()


async def current_yearly(session: AsyncSession, indicator_ids: Sequence[str], up_to: int) -> Sequence[Observation]:
    """The current yearly value of each of these indicators in every year up to `up_to`."""
    statement = _current().where(
        Observation.indicator_id.in_(indicator_ids), Observation.period == "year", Observation.year <= up_to
    )
    return (await session.scalars(statement)).all()
