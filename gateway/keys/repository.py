"""Every query on the api_keys table."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ApiKey


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def by_key_id(session: AsyncSession, key_id: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_id == key_id))
    return result.scalar_one_or_none()


async def all_keys(session: AsyncSession, *, include_revoked: bool) -> Sequence[ApiKey]:
    statement = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        statement = statement.where(ApiKey.revoked_at.is_(None))
    return (await session.execute(statement)).scalars().all()


async def revoke(session: AsyncSession, key_id: str, when: datetime) -> bool:
    result = await session.execute(
        update(ApiKey).where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=when)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
