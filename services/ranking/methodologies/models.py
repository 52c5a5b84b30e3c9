from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.ranking.db import Base, FractionColumn, JSONColumn, utcnow


class Methodology(Base):
    """A published, versioned way of ranking the districts. Versions are never updated, only added."""

    __tablename__ = "methodologies"
    __table_args__ = (
        CheckConstraint(
            "weight_new_count >= 0 AND weight_net_increase >= 0 AND weight_revenue_growth >= 0", name="weights_positive"
        ),
        # numeric is exact; the tolerance is the one the deployed constraint has had since the first migration.
        CheckConstraint(
            "ABS(weight_new_count + weight_net_increase + weight_revenue_growth - 1) < 0.0000005", name="weights_sum"
        ),
        CheckConstraint("normalisation IN ('min_max', 'z_score', 'rank')", name="normalisation"),
        CheckConstraint("growth_basis IN ('comparable')", name="growth_basis"),
        CheckConstraint("min_base >= 0", name="min_base"),
        CheckConstraint("winsorise IS NULL OR (winsorise > 0 AND winsorise < 0.25)", name="winsorise"),
        CheckConstraint("max_unreported_share >= 0 AND max_unreported_share <= 1", name="max_unreported_share"),
        # At most one default version.
        Index(
            "uq_methodologies_default",
            "is_default",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight_new_count: Mapped[Decimal] = mapped_column(FractionColumn)
    weight_net_increase: Mapped[Decimal] = mapped_column(FractionColumn)
    weight_revenue_growth: Mapped[Decimal] = mapped_column(FractionColumn)
    normalisation: Mapped[str] = mapped_column(String(16))
    growth_basis: Mapped[str] = mapped_column(String(16))
    min_base: Mapped[int] = mapped_column(Integer)
    winsorise: Mapped[Decimal | None] = mapped_column(FractionColumn)
    tie_break: Mapped[list[Any]] = mapped_column(JSONColumn)
    # The data-quality gate: the most a district's unreported enterprises (above size in Y − 1, no verified record
    # for Y) may be of its prior above-size count before a run cannot be published.
    max_unreported_share: Mapped[Decimal] = mapped_column(FractionColumn)
    description: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
