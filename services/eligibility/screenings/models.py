"""Stored screenings: the nightly screening of each year in force, kept as a snapshot of who was eligible for what.

A snapshot holds, per measure and subject, the amount the rules gave on its `as_of` (only the eligible ones: a
subject absent from a snapshot was not eligible, or lacked a verified fact). The next snapshot of the same year is
compared with it, and the difference is recorded as `enterprise.newly_eligible` / `enterprise.no_longer_eligible`
events (services.eligibility.screenings.snapshots). Rows are never updated; old snapshots are pruned (all but the
latest few of each year), their entries with them.
"""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, utcnow


class ScreeningSnapshot(Base):
    __tablename__ = "screening_snapshots"
    __table_args__ = (
        Index("ix_screening_snapshots_year_id", "year", "id"),
        CheckConstraint("eligible_count >= 0", name="eligible_count_not_negative"),
        CheckConstraint("events_recorded >= 0", name="events_recorded_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    year: Mapped[int]
    # The date the rules and parameters were applied on (today in China, when the snapshot was taken).
    as_of: Mapped[date]
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    eligible_count: Mapped[int]
    amount_yuan: Mapped[Decimal]
    # The first snapshot of its year has nothing to compare with: it records the baseline and no events.
    baseline: Mapped[bool]
    events_recorded: Mapped[int]


class ScreeningSnapshotEntry(Base):
    """One eligible (measure, subject) of a snapshot and the amount the rules gave."""

    __tablename__ = "screening_snapshot_entries"
    __table_args__ = (CheckConstraint("amount_yuan > 0", name="amount_positive"),)

    snapshot_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("screening_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    measure_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_name: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(String(6))
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200))
    # The enterprise the entry concerns (an enterprise subject itself, a project's owner, a building's operator);
    # None for a cluster, whose money goes to a district government or a city department.
    enterprise_uscc: Mapped[str | None] = mapped_column(String(18))
    amount_yuan: Mapped[Decimal]
