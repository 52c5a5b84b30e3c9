from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, JSONColumn, utcnow


class EnterpriseRegistration(Base):
    """A district's registration of an enterprise whose credit code names another district's division (positions
    3–8): held for the city's confirmation instead of taking the code."""

    __tablename__ = "enterprise_registrations"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'confirmed', 'refused')", name="status"),
        Index("ix_enterprise_registrations_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    division_code: Mapped[str] = mapped_column(String(6))
    data: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(1000))
