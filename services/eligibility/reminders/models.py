"""The reminders sent: `policy.expiring` once per registered policy."""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, utcnow


class PolicyExpiryNotice(Base):
    """A `policy.expiring` event recorded for a policy: one row per policy, ever (a policy is never updated, so its
    end of validity never moves). Never updated or deleted."""

    __tablename__ = "policy_expiry_notices"

    policy_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("policies.id"), primary_key=True)
    effective_to: Mapped[date]
    event_id: Mapped[UUID]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
