"""Every SQL statement of the stored screenings (snapshots)."""

from collections.abc import Sequence

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.screenings.models import ScreeningSnapshot, ScreeningSnapshotEntry

# pg_advisory_xact_lock's first key: the snapshots of one year (the second key) are taken one at a time.
SNAPSHOT_LOCK_CLASS = 0x5C2EE7


async def lock_year(session: AsyncSession, year: int) -> None:
    """Hold the year's snapshot lock until the transaction ends: two workers never diff against the same previous
    snapshot of a year."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:classid, :objid)"), {"classid": SNAPSHOT_LOCK_CLASS, "objid": year}
    )


async def latest(session: AsyncSession, year: int) -> ScreeningSnapshot | None:
    return await session.scalar(
        select(ScreeningSnapshot).where(ScreeningSnapshot.year == year).order_by(ScreeningSnapshot.id.desc()).limit(1)
    )


async def entries(session: AsyncSession, snapshot_id: int) -> Sequence[ScreeningSnapshotEntry]:
    return (
        await session.scalars(select(ScreeningSnapshotEntry).where(ScreeningSnapshotEntry.snapshot_id == snapshot_id))
    ).all()


def add(session: AsyncSession, snapshot: ScreeningSnapshot) -> None:
    session.add(snapshot)


async def add_entries(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Insert a snapshot's entries in one statement per chunk (thousands of rows: no ORM object each)."""
    for start in range(0, len(rows), 5000):
        await session.execute(insert(ScreeningSnapshotEntry), rows[start : start + 5000])


async def prune(session: AsyncSession, year: int, keep: int) -> int:
    """Delete all but the latest `keep` snapshots of `year` (their entries go with them); the number deleted."""
    newest = (
        select(ScreeningSnapshot.id)
        .where(ScreeningSnapshot.year == year)
        .order_by(ScreeningSnapshot.id.desc())
        .limit(keep)
    )
    result = await session.execute(
        delete(ScreeningSnapshot)
        .where(ScreeningSnapshot.year == year, ScreeningSnapshot.id.not_in(newest))
        .returning(ScreeningSnapshot.id)
    )
    return len(result.all())
