from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.policies.models import Policy


async def get(session: AsyncSession, policy_id: int) -> Policy | None:
    return await session.get(Policy, policy_id)


async def by_number(session: AsyncSession, document_number: str) -> Policy | None:
    """The policy of a canonical document number."""
    return await session.scalar(select(Policy).where(Policy.document_number == document_number))


async def page(
    session: AsyncSession, document_number: str | None, after_id: int | None, limit: int
) -> Sequence[Policy]:
    """In the order they were registered: ids above `after_id`."""
    query = select(Policy).order_by(Policy.id).limit(limit)
    if document_number is not None:
        query = query.where(Policy.document_number == document_number)
    if after_id is not None:
        query = query.where(Policy.id > after_id)
    return (await session.scalars(query)).all()


async def add(session: AsyncSession, policy: Policy) -> Policy | None:
    """`policy` written, or None when its document number is already registered (also by a concurrent writer,
    which the unique constraint stops: the savepoint keeps the rest of the unit of work)."""
    try:
        async with session.begin_nested():
            session.add(policy)
            await session.flush()
    except IntegrityError:
        return None
    return policy
