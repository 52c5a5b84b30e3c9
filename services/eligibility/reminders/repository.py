"""Every SQL statement of the reminders."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.policies.models import Policy
from services.eligibility.reminders.models import PolicyExpiryNotice

# pg_advisory_xact_lock's key: one run of the reminders at a time (a second waits, then finds them recorded).
REMINDERS_LOCK = (0x5C2EE7, -1)


async def lock_reminders(session: AsyncSession) -> None:
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:classid, :objid)"),
        {"classid": REMINDERS_LOCK[0], "objid": REMINDERS_LOCK[1]},
    )


async def expiring_unnoticed(session: AsyncSession, first: date, last: date) -> Sequence[Policy]:
    """The policies whose validity ends between `first` and `last` (inclusive) and that were not reminded of yet,
    in id order."""
    noticed = select(PolicyExpiryNotice.policy_id).where(PolicyExpiryNotice.policy_id == Policy.id)
    return (
        await session.scalars(
            select(Policy)
            .where(Policy.effective_to.is_not(None), Policy.effective_to.between(first, last), ~noticed.exists())
            .order_by(Policy.id)
        )
    ).all()


def add_notice(session: AsyncSession, notice: PolicyExpiryNotice) -> None:
    """Stage the reminder of a policy (its primary key refuses a second one, should two runs ever race)."""
    session.add(notice)
