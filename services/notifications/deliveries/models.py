import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.db import Base, utcnow

# pending: queued for its next try; retrying: a try failed, the next is scheduled; held: the subscription is paused
# (queued again when it is resumed); succeeded: a 2xx; dead: the last try failed; cancelled: the subscription was
# deleted before it was sent.
STATUSES = ("pending", "retrying", "held", "succeeded", "dead", "cancelled")


class Delivery(Base):
    """One event to one subscription. A manual redelivery starts a new chain of tries (`chain` + 1) on the same
    delivery, under the same `webhook-id` (the event's id)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'retrying', 'held', 'succeeded', 'dead', 'cancelled')", name="status"),
        Index("uq_deliveries_subscription_event", "subscription_id", "event_id", unique=True),
        Index("ix_deliveries_held", "subscription_id", "id", postgresql_where="status = 'held'"),
        # The metrics' count by status (an index-only scan).
        Index("ix_deliveries_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("subscriptions.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    status: Mapped[str] = mapped_column(String(16))
    chain: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    queue_job_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    """One try of a delivery: when, what the endpoint answered (or why nothing was sent), how long it took.
    Append-only: the log a district reads to see what its endpoint was sent."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        CheckConstraint("outcome IN ('succeeded', 'failed')", name="outcome"),
        Index("ix_delivery_attempts_delivery", "delivery_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("deliveries.id"))
    chain: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
