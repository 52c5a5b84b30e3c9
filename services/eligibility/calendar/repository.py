from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.calendar.models import OfficialCalendar


async def current_records(session: AsyncSession, from_year: int | None = None) -> Sequence[OfficialCalendar]:
    """The record in force of each year (the newest one), from `from_year` on if given, by year."""
    newest = select(func.max(OfficialCalendar.id)).group_by(OfficialCalendar.year)
    if from_year is not None:
        newest = newest.where(OfficialCalendar.year >= from_year)
    query = select(OfficialCalendar).where(OfficialCalendar.id.in_(newest)).order_by(OfficialCalendar.year)
    return (await session.scalars(query)).all()


async def records_of_year(session: AsyncSession, year: int) -> Sequence[OfficialCalendar]:
    """Every record of `year`, the one in force (the newest) first."""
    query = select(OfficialCalendar).where(OfficialCalendar.year == year).order_by(OfficialCalendar.id.desc())
    return (await session.scalars(query)).all()


async def add(session: AsyncSession, record: OfficialCalendar) -> OfficialCalendar:
    session.add(record)
    return record
