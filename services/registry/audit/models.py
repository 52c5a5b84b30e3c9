from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, JSONColumn, utcnow


class AuditEntry(Base):
    """One write: who, when, what, before and after. Append-only (PostgreSQL refuses UPDATE and DELETE)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_district: Mapped[str | None] = mapped_column(String(6))
    # The system's id of the request (what operators find in the logs), and the caller's own if it sent one.
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONColumn)
