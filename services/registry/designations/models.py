from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, utcnow

# A designation stands until it is revoked; a revoked one keeps its history.
LIVE = text("revoked_at IS NULL")


class LeadingDesignation(Base):
    """A 市级领军企业 designation (渝府发〔2024〕18号: 培育领军企业100家): made by the city in a year, under a notice,
    and possibly revoked later with a reason."""

    __tablename__ = "leading_designations"
    __table_args__ = (
        CheckConstraint(
            "(revoked_at IS NULL AND revoked_by IS NULL AND revocation_reason IS NULL)"
            " OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revocation_reason IS NOT NULL)",
            name="revocation_complete",
        ),
        # One live designation per enterprise; the database decides between two concurrent ones.
        Index("uq_leading_designations_live_uscc", "uscc", unique=True, postgresql_where=LIVE),
        Index("ix_leading_designations_year", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc"), index=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    document: Mapped[str] = mapped_column(String(200))
    designated_by: Mapped[str] = mapped_column(String(32))
    designated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(32))
    revocation_reason: Mapped[str | None] = mapped_column(String(1000))
