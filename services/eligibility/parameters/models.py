from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, JSONColumn, utcnow


class ParameterAmendment(Base):
    """A dated value of a parameter recorded through the API, layered on the data file. Never updated."""

    __tablename__ = "parameter_amendments"
    __table_args__ = (UniqueConstraint("name", "effective_from", name="uq_parameter_amendments_name_effective_from"),)

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    effective_from: Mapped[date]
    value: Mapped[Any] = mapped_column(JSONColumn)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(32))
    # The system's id of the request (what operators find in the logs), and the caller's own if it sent one.
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_request_id: Mapped[str | None] = mapped_column(String(128))
