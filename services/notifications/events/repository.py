import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.events.models import StoredEvent
from shared.events import EventType

# The oldest transaction still running anywhere in the cluster: rows of older transactions are all committed (or
# never will be), so the feed never shows one after a row that commits later with a lower position.
_HORIZON = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


async def insert_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    """Store the events not stored yet (an event relayed twice is stored once); the ids of those stored now, in the
    order given."""
    if not rows:
        return []
    statement = insert(StoredEvent).values(list(rows)).on_conflict_do_nothing(index_elements=["id"])
    stored = set((await session.scalars(statement.returning(StoredEvent.id))).all())
    return [row["id"] for row in rows if row["id"] in stored]


def stage(session: AsyncSession, event: StoredEvent) -> None:
    session.add(event)


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredEvent]:
    if not ids:
        return {}
    rows = (await session.scalars(select(StoredEvent).where(StoredEvent.id.in_(ids)))).all()
    return {row.id: row for row in rows}


async def get(session: AsyncSession, event_id: uuid.UUID) -> StoredEvent | None:
    return (await session.scalars(select(StoredEvent).where(StoredEvent.id == event_id))).first()


async def feed_page(
    session: AsyncSession,
    district_code: str | None,
    types: Sequence[str] | None,
    after: tuple[int, int] | None,
    limit: int,
) -> Sequence[StoredEvent]:
    """Events in (txid, seq) order after `after`, below the horizon, never pings; `district_code`: only that
    district's and those of no district."""
    statement = select(StoredEvent).where(
        StoredEvent.txid < text(_HORIZON), StoredEvent.type != EventType.WEBHOOK_PING.value
    )
    if district_code is not None:
        statement = statement.where(
            or_(StoredEvent.district_code == district_code, StoredEvent.district_code.is_(None))
        )
    if types:
        statement = statement.where(StoredEvent.type.in_(list(types)))
    if after is not None:
        statement = statement.where(tuple_(StoredEvent.txid, StoredEvent.seq) > tuple_(*after))
    statement = statement.order_by(StoredEvent.txid, StoredEvent.seq).limit(limit + 1)
    return (await session.scalars(statement)).all()
