from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.registry.db import Base, utcnow
from services.registry.verification.models import Verified, status_check


class Building(Verified, Base):
    """A star building (星级楼宇) and its operator."""

    __tablename__ = "buildings"
    __table_args__ = (CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"), status_check())

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"), index=True)
    stars: Mapped[int] = mapped_column(SmallInteger)
    operator_uscc: Mapped[str] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    years: Mapped[list["BuildingYear"]] = relationship(order_by="BuildingYear.year", lazy="raise")


class BuildingYear(Verified, Base):
    __tablename__ = "building_years"
    __table_args__ = (CheckConstraint("revenue_yuan >= 0", name="revenue_non_negative"), status_check())

    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    revenue_yuan: Mapped[Decimal]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
