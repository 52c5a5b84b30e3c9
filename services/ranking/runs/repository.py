from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.runs.models import Run


def add(session: AsyncSession, run: Run) -> None:
    session.add(run)


async def get(session: AsyncSession, run_id: int, *, for_update: bool = False) -> Run | None:
    query = select(Run).where(Run.id == run_id)
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def published(session: AsyncSession, year: int, *, for_update: bool = False) -> Run | None:
    query = select(Run).where(Run.year == year, Run.status == "published")
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


async def publication_history(session: AsyncSession, year: int) -> Sequence[Run]:
    """The runs ever published for `year` (the current one and those it superseded), oldest first."""
    query = (
        select(Run)
        .where(Run.year == year, Run.status.in_(("published", "superseded")))
        .order_by(Run.published_at, Run.id)
    )
    return (await session.scalars(query)).all()


async def page(
    session: AsyncSession, *, year: int | None, status: str | None, before_id: int | None, limit: int
) -> Sequence[Run]:
    """Runs newest first, optionally of one year and status, after the cursor's id."""
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if year is not None:
        query = query.where(Run.year == year)
    if status is not None:
        query = query.where(Run.status == status)
    if before_id is not None:
        query = query.where(Run.id < before_id)
    return (await session.scalars(query)).all()
