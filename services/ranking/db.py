"""The ranking service's declarative base and column types."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import JSON, DateTime, Numeric
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

from shared.db import make_metadata

MoneyColumn = Numeric(18, 2, asdecimal=True)
JSONColumn = JSON().with_variant(JSONB(), "postgresql")
# Methodology weights and fractions: six decimal places, exact.
FractionColumn = Numeric(7, 6, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = {datetime: DateTime(timezone=True), Decimal: MoneyColumn}  # noqa: RUF012 (SQLAlchemy API)
