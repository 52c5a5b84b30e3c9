from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.registry.db import Base, utcnow
from services.registry.verification.models import Verified, status_check


class Cluster(Base):
    """A producer-service cluster (集聚区) and the body that manages it."""

    __tablename__ = "clusters"
    __table_args__ = (
        CheckConstraint(
            "(belongs_to_kind = 'district' AND belongs_to_district IS NOT NULL AND belongs_to_department IS NULL)"
            " OR (belongs_to_kind = 'city_department' AND belongs_to_department IS NOT NULL"
            " AND belongs_to_district IS NULL)",
            name="belongs_to",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    manager_uscc: Mapped[str | None] = mapped_column(String(18))
    # 隶属关系: the district government or the city department (incl. a development-zone committee) it belongs to.
    belongs_to_kind: Mapped[str] = mapped_column(String(16))
    belongs_to_district: Mapped[str | None] = mapped_column(ForeignKey("districts.code"))
    belongs_to_department: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    evaluations: Mapped[list["ClusterEvaluation"]] = relationship(order_by="ClusterEvaluation.year", lazy="raise")


class ClusterEvaluation(Verified, Base):
    """The yearly evaluation of a cluster: grade A–D, score, and the tier that sets the M03 amount."""

    __tablename__ = "cluster_evaluations"
    __table_args__ = (
        CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="grade"),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        CheckConstraint("tier IS NULL OR tier BETWEEN 1 AND 9", name="tier_range"),
        status_check(),
    )

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    grade: Mapped[str] = mapped_column(String(1))
    score: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    tier: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ClusterYear(Verified, Base):
    """A cluster's yearly revenue (营业收入, issue 18: 百亿级集聚区 are counted from it); the monitoring statistics
    count only verified revenue."""

    __tablename__ = "cluster_years"
    __table_args__ = (
        CheckConstraint("revenue_yuan >= 0", name="revenue_non_negative"),
        # The monitoring statistics read one year's verified revenues.
        Index("ix_cluster_years_year_verification_status", "year", "verification_status"),
        status_check(),
    )

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    revenue_yuan: Mapped[Decimal]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
