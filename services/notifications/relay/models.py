from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.notifications.db import Base, utcnow


class RelayCursor(Base):
    """How far the relay has read one producer's outbox feed (its opaque cursor). A relay claims the source for the
    batch it relays (an advisory lock, see relay.repository.claim): replicas share the sources, never a batch."""

    __tablename__ = "relay_cursors"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    relayed: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
