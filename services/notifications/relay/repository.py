from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications.relay.models import RelayCursor


async def ensure(session: AsyncSession, source: str) -> None:
    """The source's cursor row, made at the start (from the beginning of its feed)."""
    await session.execute(
        insert(RelayCursor)
        .values(source=source, cursor=None, relayed=0)
        .on_conflict_do_nothing(index_elements=["source"])
    )


# pg_try_advisory_xact_lock's class for a source's relay (a constant no other lock of this database uses).
_RELAY_LOCK_CLASS = 0x5B5D


async def claim(session: AsyncSession, source: str) -> RelayCursor | None:
    """The source's cursor, claimed until the caller's commit; None while another relay holds it.

    An advisory lock rather than the row's FOR UPDATE: a row lock gives the transaction an id at once, and the
    producers' feeds show only what committed before the oldest running transaction id of the whole server — a
    relay waiting for a slow feed would hold every feed back. Claimed this way, the transaction takes an id only
    when it writes, after the feed answered."""
    claimed = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:class, hashtext(:source))"),
        {"class": _RELAY_LOCK_CLASS, "source": source},
    )
    if not claimed:
        return None
    statement = select(RelayCursor).where(RelayCursor.source == source).execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def read_ages(session: AsyncSession) -> dict[str, float]:
    """Seconds since each source's feed was last read in a committed batch."""
    statement = select(RelayCursor.source, func.extract("epoch", func.now() - RelayCursor.updated_at))
    return {source: float(age) for source, age in (await session.execute(statement)).all()}
