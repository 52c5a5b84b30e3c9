"""The monitoring service's declarative base; column types and the clock come from shared.db."""

from sqlalchemy import Numeric
from sqlalchemy.orm import DeclarativeBase

from shared.clock import utcnow
from shared.db import TYPE_ANNOTATION_MAP, JSONColumn, make_metadata

__all__ = ["Base", "FigureColumn", "JSONColumn", "utcnow"]

# An observed figure: up to 10^18 (万亿元 in yuan) with six decimal places, exact.
FigureColumn = Numeric(24, 6, asdecimal=True)


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP
