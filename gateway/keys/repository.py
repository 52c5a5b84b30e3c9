"""Every query on the api_keys and key_events tables."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ApiKey, KeyEvent, metadata

_KEYS = metadata.tables[ApiKey.__tablename__]


async def database_now(session: AsyncSession) -> datetime:
    """The transaction's time on the database server: what key_events records, whatever the client's clock says."""
    return (await session.execute(select(func.now()))).scalar_one()


async def add(session: AsyncSession, key: ApiKey) -> ApiKey:
    session.add(key)
    await session.flush()
    return key


async def by_key_id(session: AsyncSession, key_id: str, *, for_update: bool = False) -> ApiKey | None:
    statement = select(ApiKey).where(ApiKey.key_id == key_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def all_keys(session: AsyncSession) -> Sequence[ApiKey]:
    return (await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars().all()


async def revoke(session: AsyncSession, key_id: str, when: datetime) -> bool:
    result = await session.execute(
        update(ApiKey).where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=when)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_event(session: AsyncSession, event: KeyEvent) -> None:
    session.add(event)
    await session.flush()


async def successor_of(session: AsyncSession, key_id: str) -> str | None:
    statement = select(KeyEvent.related_key_id).where(KeyEvent.key_id == key_id, KeyEvent.event == "rotated")
    return (await session.execute(statement.limit(1))).scalar_one_or_none()


async def events(session: AsyncSession, key_id: str | None) -> Sequence[KeyEvent]:
    statement = select(KeyEvent).order_by(KeyEvent.id)
    if key_id is not None:
        statement = statement.where(KeyEvent.key_id == key_id)
    return (await session.execute(statement)).scalars().all()


async def record_uses(session: AsyncSession, uses: dict[str, datetime]) -> None:
    # The table, not the mapped class: one executemany UPDATE for all the keys, without loading a row.
    statement = (
        update(_KEYS)
        .where(
            _KEYS.c.key_id == bindparam("used_key_id"),
            or_(_KEYS.c.last_used_at.is_(None), _KEYS.c.last_used_at < bindparam("used_at")),
        )
        .values(last_used_at=bindparam("used_at"))
    )
    await session.execute(statement, [{"used_key_id": key_id, "used_at": at} for key_id, at in uses.items()])
