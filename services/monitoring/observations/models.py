from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.monitoring.db import Base, FigureColumn, utcnow

SOURCE_KINDS = ("statistics_bureau", "department", "other")
PERIODS = ("year", "Q1", "Q2", "Q3", "Q4")


class Observation(Base):
    """One revision of an indicator's value for a year (or a quarter of it), as the city recorded it.

    Append-only (the database refuses UPDATE and DELETE): a correction is the next revision, with its reason, so
    every figure a meeting saw stays readable."""

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint("source_kind IN ('statistics_bureau', 'department', 'other')", name="source_kind"),
        CheckConstraint("period IN ('year', 'Q1', 'Q2', 'Q3', 'Q4')", name="period"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("revision = 1 OR reason IS NOT NULL", name="correction_has_reason"),
        Index("uq_observations_revision", "indicator_id", "year", "period", "revision", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(SmallInteger)
    period: Mapped[str] = mapped_column(String(4))
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(FigureColumn)
    unit: Mapped[str] = mapped_column(String(16))
    source_kind: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
