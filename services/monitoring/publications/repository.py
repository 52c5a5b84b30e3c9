from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.monitoring.publications.models import Publication


async def latest(session: AsyncSession, year: int) -> Publication | None:
    statement = select(Publication).where(Publication.year == year).order_by(Publication.version.desc()).limit(1)
    return (await session.scalars(statement)).first()


async def version(session: AsyncSession, year: int, number: int) -> Publication | None:
    statement = select(Publication).where(Publication.year == year, Publication.version == number)
    return (await session.scalars(statement)).first()


async def versions(session: AsyncSession, year: int) -> Sequence[Publication]:
    statement = select(Publication).where(Publication.year == year).order_by(Publication.version.desc())
    return (await session.scalars(statement)).all()


def stage(session: AsyncSession, publication: Publication) -> None:
    session.add(publication)
