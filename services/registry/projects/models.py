from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, utcnow


class Project(Base):
    """Something that applies for money: an investment project, a public service platform, or an event."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("kind IN ('investment', 'platform', 'event')", name="kind"),
        CheckConstraint("verified_investment_yuan IS NULL OR verified_investment_yuan >= 0", name="investment_nn"),
        CheckConstraint("actual_spend_yuan IS NULL OR actual_spend_yuan >= 0", name="spend_non_negative"),
        Index("ix_projects_district_code_id", "district_code", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_uscc: Mapped[str] = mapped_column(String(18), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    name: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(SmallInteger, index=True)
    platform_domain: Mapped[str | None] = mapped_column(String(32))
    verified_investment_yuan: Mapped[Decimal | None]
    actual_spend_yuan: Mapped[Decimal | None]
    special_major_approved: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
