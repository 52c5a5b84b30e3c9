from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ranking.methodologies.models import Methodology


def add(session: AsyncSession, methodology: Methodology) -> None:
    session.add(methodology)


async def get(session: AsyncSession, version: str) -> Methodology | None:
    return await session.get(Methodology, version)


async def get_default(session: AsyncSession) -> Methodology | None:
    return (await session.scalars(select(Methodology).where(Methodology.is_default.is_(True)))).one_or_none()


async def all_versions(session: AsyncSession) -> Sequence[Methodology]:
    return (await session.scalars(select(Methodology).order_by(Methodology.created_at, Methodology.version))).all()


async def clear_default(session: AsyncSession) -> None:
    await session.execute(
        update(Methodology)
        .where(Methodology.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
