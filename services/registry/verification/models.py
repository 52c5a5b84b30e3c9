"""The verification columns every record of a money-deciding fact carries (who submitted it, who verified it)."""

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

STATUSES = ("submitted", "verified", "rejected")


def status_check() -> CheckConstraint:
    return CheckConstraint("verification_status IN ('submitted', 'verified', 'rejected')", name="verification_status")


class Verified:
    """Mixin: the fact's verification by its authority (the city); see services.registry.verification.service."""

    verification_status: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime]
    verified_by: Mapped[str | None] = mapped_column(String(32))
    verified_at: Mapped[datetime | None]
    verification_reason: Mapped[str | None] = mapped_column(String(1000))

    @property
    def verification(self) -> dict[str, Any]:
        return {
            "status": self.verification_status,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "verified_by": self.verified_by,
            "verified_at": self.verified_at,
            "reason": self.verification_reason,
        }
