from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.parameters.models import ParameterAmendment


async def list_amendments(session: AsyncSession) -> Sequence[ParameterAmendment]:
    query = select(ParameterAmendment).order_by(ParameterAmendment.name, ParameterAmendment.effective_from)
    return (await session.scalars(query)).all()


async def exists(session: AsyncSession, name: str, effective_from: date) -> bool:
    query = select(ParameterAmendment.id).where(
        ParameterAmendment.name == name, ParameterAmendment.effective_from == effective_from
    )
    return (await session.scalar(query)) is not None


async def add(session: AsyncSession, amendment: ParameterAmendment) -> ParameterAmendment:
    session.add(amendment)
    return amendment
