from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from services.ranking.db import Base, JSONColumn, utcnow


class Run(Base):
    """One computation of a year's ranking, frozen: its inputs, methodology, rows and hash never change.

    Only the publication fields move: draft → published → superseded.
    """

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published', 'superseded')", name="status"),
        Index("ix_runs_year_status", "year", "status"),
        # At most one published run per year, enforced by the database.
        Index(
            "uq_runs_published_year",
            "year",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    methodology_version: Mapped[str] = mapped_column(ForeignKey("methodologies.version"), index=True)
    as_of: Mapped[date] = mapped_column(Date)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    code_version: Mapped[str] = mapped_column(String(32))
    quality_passed: Mapped[bool]
    # The frozen document: inputs, methodology, quality gate, rows, totals.
    document: Mapped[dict[str, Any]] = mapped_column(JSONColumn)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(32))
    publish_reason: Mapped[str | None] = mapped_column(Text)
    # What changed against the run it superseded when it was published (null for a year's first publication).
    changes: Mapped[list[Any] | None] = mapped_column(JSONColumn)
    supersedes_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    superseded_at: Mapped[datetime | None]
    superseded_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
