from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.idempotency.models import IdempotentRequest


async def get(session: AsyncSession, principal: str, key: str) -> IdempotentRequest | None:
    return (
        await session.scalars(
            select(IdempotentRequest).where(IdempotentRequest.principal == principal, IdempotentRequest.key == key)
        )
    ).one_or_none()


_TABLE = cast(Table, IdempotentRequest.__table__)
_THIS_KEY = (_TABLE.c.principal == bindparam("the_principal")) & (_TABLE.c.key == bindparam("the_key"))
# Built once: a statement built and hashed for each request costs more than running it.
_CLAIMS = {
    name: dialect.insert(_TABLE)
    .values(
        principal=bindparam("the_principal"),
        key=bindparam("the_key"),
        request_hash=bindparam("the_hash"),
        status_code=0,
        response={},
    )
    .on_conflict_do_nothing(index_elements=[_TABLE.c.principal, _TABLE.c.key])
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_COMPLETE = (
    update(_TABLE).where(_THIS_KEY).values(status_code=bindparam("the_status"), response=bindparam("the_response"))
)


async def claim(session: AsyncSession, principal: str, key: str, request_hash: str) -> bool:
    """Insert the key, or find it taken (False). A concurrent request with the same key waits here until the first
    one commits (then finds it taken) or rolls back (then takes it): one statement, no savepoint."""
    result = await session.execute(
        _CLAIMS[session.get_bind().dialect.name],
        {"the_principal": principal, "the_key": key, "the_hash": request_hash},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def complete(session: AsyncSession, principal: str, key: str, status_code: int, response: dict[str, Any]) -> None:
    await session.execute(
        _COMPLETE, {"the_principal": principal, "the_key": key, "the_status": status_code, "the_response": response}
    )
