from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Identity, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.db import Base, utcnow

STATUSES = ("active", "paused")
PAUSED_REASONS = ("manual", "failing")


class Subscription(Base):
    """A webhook endpoint and the events it wants. Never deleted (the delivery log stays readable): DELETE sets
    `deleted_at`. `version` is its ETag; `consecutive_dead` counts the deliveries that died in a row,
    `consecutive_failures` the tries that failed in a row."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused')", name="status"),
        CheckConstraint("paused_reason IS NULL OR paused_reason IN ('manual', 'failing')", name="paused_reason"),
        CheckConstraint("(status = 'paused') = (paused_reason IS NOT NULL)", name="paused_has_reason"),
        CheckConstraint("owner_role IN ('city', 'district', 'auditor')", name="owner_role"),
        CheckConstraint("owner_role <> 'district' OR district_code = owner_district", name="district_own"),
        Index("ix_subscriptions_live", "id", postgresql_where="deleted_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    owner_role: Mapped[str] = mapped_column(String(16))
    owner_district: Mapped[str | None] = mapped_column(String(6))
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    measure_ids: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    subject_types: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)))
    district_code: Mapped[str | None] = mapped_column(String(6))
    description: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    paused_reason: Mapped[str | None] = mapped_column(String(16))
    consecutive_dead: Mapped[int] = mapped_column(Integer, default=0)
    # Tries that failed in a row (pings excluded): the breaker (`NOTIFICATIONS_PAUSE_AFTER_FAILED_TRIES`).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column()
