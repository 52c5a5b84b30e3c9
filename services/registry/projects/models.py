from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, utcnow
from services.registry.verification.models import Verified, status_check

# A record marked as the duplicate of another (by migration 0002) keeps its history but not the identity.
_STANDING = text("duplicate_of_id IS NULL")


class Project(Verified, Base):
    """Something that applies for money: an investment project, a public service platform, or an event.

    One real-world subject, one record: the national project code (项目代码) is unique, and so is owner + kind +
    normalised name + year (`name_key`: NFKC, whitespace removed).
    """

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("kind IN ('investment', 'platform', 'event')", name="kind"),
        CheckConstraint("verified_investment_yuan IS NULL OR verified_investment_yuan >= 0", name="investment_nn"),
        CheckConstraint("actual_spend_yuan IS NULL OR actual_spend_yuan >= 0", name="spend_non_negative"),
        Index("ix_projects_district_code_id", "district_code", "id"),
        Index(
            "uq_projects_identity",
            "owner_uscc",
            "kind",
            "name_key",
            "year",
            unique=True,
            postgresql_where=_STANDING,
        ),
        Index(
            "uq_projects_project_code",
            "project_code",
            unique=True,
            postgresql_where=_STANDING,
        ),
        status_check(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_uscc: Mapped[str] = mapped_column(String(18), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(SmallInteger, index=True)
    project_code: Mapped[str | None] = mapped_column(String(24))
    platform_domain: Mapped[str | None] = mapped_column(String(32))
    verified_investment_yuan: Mapped[Decimal | None]
    actual_spend_yuan: Mapped[Decimal | None]
    special_major_approved: Mapped[bool] = mapped_column(default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
