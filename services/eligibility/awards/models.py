from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, JSONColumn, utcnow

# The states that stand for their key; the others (rejected, withdrawn, superseded) never do.
STANDING_STATUSES = ("proposed", "approved", "publicised", "paid")
STATUSES = (*STANDING_STATUSES, "rejected", "withdrawn", "superseded")
SUBJECT_TYPES = ("project", "cluster", "building", "enterprise", "district")
RECIPIENT_KINDS = ("enterprise", "district", "city_department")


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


class Award(Base):
    """One award of money to one subject. Its amounts and subject never change; its status moves on (award_events).

    就高不重复 is held by the database: at most one row per `stacking_key` has `is_standing` true.
    """

    __tablename__ = "awards"
    __table_args__ = (
        Index(
            "uq_awards_standing_stacking_key",
            "stacking_key",
            unique=True,
            postgresql_where=text("is_standing"),
        ),
        Index("ix_awards_district_code_id", "district_code", "id"),
        CheckConstraint("amount_yuan > 0", name="amount_positive"),
        CheckConstraint("payable_yuan > 0 AND payable_yuan <= amount_yuan", name="payable_within_amount"),
        CheckConstraint(f"status IN ({_quoted(STATUSES)})", name="status_known"),
        CheckConstraint(f"subject_type IN ({_quoted(SUBJECT_TYPES)})", name="subject_type_known"),
        CheckConstraint(f"recipient_kind IN ({_quoted(RECIPIENT_KINDS)})", name="recipient_kind_known"),
        CheckConstraint(f"NOT is_standing OR status IN ({_quoted(STANDING_STATUSES)})", name="standing_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    policy_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("policies.id"), index=True)
    # The policy's document number, canonical (a copy of policies.document_number, for filters and exports).
    policy: Mapped[str] = mapped_column(String(100))
    measure_id: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    subject_name: Mapped[str | None] = mapped_column(String(200))
    # Who receives the money (services.eligibility.awards.identity): an enterprise's credit code, a district code,
    # or a city department's name; None only for another policy's project the registry does not hold.
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(200))
    year: Mapped[int | None]
    # Derived by services.eligibility.awards.identity.stacking_key: the subject, plus the year (yearly subjects)
    # or the recipient kind (enterprises).
    stacking_key: Mapped[str] = mapped_column(String(96), index=True)
    district_code: Mapped[str] = mapped_column(String(6))
    # The entitlement; what this award pays is payable_yuan (the difference, for a top-up of a paid award).
    amount_yuan: Mapped[Decimal]
    payable_yuan: Mapped[Decimal]
    tops_up_award_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("awards.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    is_standing: Mapped[bool]
    superseded_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("awards.id"))
    publicised_on: Mapped[date | None]
    notice_ends_on: Mapped[date | None]
    paid_on: Mapped[date | None]
    # The rules engine's trace on the registry's facts, for this policy's computable measures.
    calculation: Mapped[Any | None] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AwardEvent(Base):
    """One step in an award's history: who, when, why. Never updated or deleted (a trigger on PostgreSQL)."""

    __tablename__ = "award_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    award_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("awards.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # The date the step takes effect (a transition's `on`), beside when it was recorded.
    effective_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(Text)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_district: Mapped[str | None] = mapped_column(String(6))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The system's id of the request (what operators find in the logs), and the caller's own if it sent one.
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_request_id: Mapped[str | None] = mapped_column(String(128))
