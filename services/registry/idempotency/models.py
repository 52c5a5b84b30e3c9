from datetime import datetime
from typing import Any

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base, JSONColumn, utcnow


class IdempotentRequest(Base):
    """The answer given to a request sent with an Idempotency-Key, replayed when the same request comes again."""

    __tablename__ = "idempotent_requests"

    principal: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
