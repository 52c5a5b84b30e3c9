"""The notifications service's declarative base; column types and the clock come from shared.db."""

from sqlalchemy.orm import DeclarativeBase

from shared.clock import utcnow
from shared.db import TYPE_ANNOTATION_MAP, JSONColumn, make_metadata

__all__ = ["Base", "JSONColumn", "utcnow"]


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP
