from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from services.eligibility.db import Base, utcnow


class Policy(Base):
    """A city policy awards are made under, by its document number in canonical form (one document, one row).

    The migration registers 渝发改规范〔2024〕7号 itself; the city registers the others. Never updated or deleted.
    """

    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="effective_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # normalise_document_number's form, e.g. 渝发改规范〔2024〕7号.
    document_number: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date]
    # None: in force with no end date.
    effective_to: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
