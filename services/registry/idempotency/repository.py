from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.idempotency.models import IdempotentRequest


async def get(session: AsyncSession, principal: str, key: str) -> IdempotentRequest | None:
    return (
        await session.scalars(
            select(IdempotentRequest).where(IdempotentRequest.principal == principal, IdempotentRequest.key == key)
        )
    ).one_or_none()


async def claim(session: AsyncSession, principal: str, key: str, request_hash: str) -> None:
    """Insert the key; a concurrent request with the same key waits here until the first one commits."""
    async with session.begin_nested():
        session.add(
            IdempotentRequest(principal=principal, key=key, request_hash=request_hash, status_code=0, response={})
        )


async def complete(session: AsyncSession, principal: str, key: str, status_code: int, response: dict[str, Any]) -> None:
    await session.execute(
        update(IdempotentRequest)
        .where(IdempotentRequest.principal == principal, IdempotentRequest.key == key)
        .values(status_code=status_code, response=response)
    )
