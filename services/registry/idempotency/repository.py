from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.idempotency.models import IdempotentRequest


async def get(session: AsyncSession, principal: str, key: str) -> IdempotentRequest | None:
    return (
        await session.scalars(
            select(IdempotentRequest).where(IdempotentRequest.principal == principal, IdempotentRequest.key == key)
        )
    ).one_or_none()


_TABLE = cast(Table, IdempotentRequest.__table__)


async def claim(session: AsyncSession, principal: str, key: str, request_hash: str) -> bool:
    """Insert the key, or find it taken (False). A concurrent request with the same key waits here until the first
    one commits (then finds it taken) or rolls back (then takes it): one statement, no savepoint."""
    statement = (
        insert(_TABLE)
        .values(principal=principal, key=key, request_hash=request_hash, status_code=0, response={})
        .on_conflict_do_nothing(index_elements=[_TABLE.c.principal, _TABLE.c.key])
    )
    return bool((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]


async def complete(session: AsyncSession, principal: str, key: str, status_code: int, response: dict[str, Any]) -> None:
    await session.execute(
        update(_TABLE)
        .where(_TABLE.c.principal == principal, _TABLE.c.key == key)
        .values(status_code=status_code, response=response)
    )
