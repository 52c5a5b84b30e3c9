import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.db import Base, JSONColumn, utcnow


class StoredEvent(Base):
    """An event as the relay received it from its producer's outbox (or a ping this service made). Append-only.

    `txid` is the relay transaction that stored it: the pull feed reads in `(txid, seq)` order below the oldest
    running transaction, so that a reader paging through it never skips an event a slower relay commits later."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_feed", "txid", "seq"),
        Index("ix_events_district_feed", "district_code", "txid", "seq"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True)
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("pg_current_xact_id()::text::bigint"))
    source: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column()
    district_code: Mapped[str | None] = mapped_column(String(6))
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
