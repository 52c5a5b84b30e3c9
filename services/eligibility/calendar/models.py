from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, JSONColumn, utcnow


class OfficialCalendar(Base):
    """A year's official schedule (the State Council's yearly notice on the holidays) as the city recorded it.

    Never updated: recording a year again adds a record, and the newest record of a year is the one in force, so
    every earlier record stays with who recorded it and when.
    """

    __tablename__ = "official_calendars"

    id: Mapped[int] = mapped_column(BigInteger(), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    notice: Mapped[str] = mapped_column(String(100))
    # [{"name": "国庆节、中秋节", "first_day": "2025-10-01", "last_day": "2025-10-08"}, ...], ISO dates, in order.
    holidays: Mapped[list[dict[str, Any]]] = mapped_column(JSONColumn)
    # ["2025-09-28", "2025-10-11", ...]: weekend days that are worked (调休), ISO dates, in order.
    make_up_working_days: Mapped[list[str]] = mapped_column(JSONColumn)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(32))
    # The system's id of the request (what operators find in the logs), and the caller's own if it sent one.
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_request_id: Mapped[str | None] = mapped_column(String(128))
