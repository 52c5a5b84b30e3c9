from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.monitoring.db import Base, JSONColumn, utcnow


class Publication(Base):
    """A year's assessment and map as published: frozen (the database refuses UPDATE and DELETE), with the hash of
    its inputs. A later version of the same year supersedes it; every version stays readable."""

    __tablename__ = "publications"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        Index("uq_publications_year_version", "year", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer)
    input_hash: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(32))
    # The frozen documents: {"assessment": AssessmentReport, "map": MapReport (the public view)}.
    document: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    reason: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
