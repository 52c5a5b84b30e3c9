from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.registry.db import Base, utcnow
from services.registry.verification.models import Verified, status_check


class Enterprise(Base):
    __tablename__ = "enterprises"
    __table_args__ = (
        Index("ix_enterprises_district_code_uscc", "district_code", "uscc"),
        Index("ix_enterprises_sector_uscc", "sector", "uscc"),
    )

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    sector: Mapped[str] = mapped_column(ForeignKey("sectors.code"))
    established_on: Mapped[date]
    spun_off_from_manufacturer: Mapped[bool] = mapped_column(default=False)
    # 主辅分离: the manufacturer the enterprise was spun off from, and the date of the spin-off.
    parent_uscc: Mapped[str | None] = mapped_column(String(18))
    spun_off_on: Mapped[date | None]
    # The ETag; bumped by every change to the enterprise or its yearly figures.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    years: Mapped[list["EnterpriseYear"]] = relationship(
        back_populates="enterprise", order_by="EnterpriseYear.year", lazy="raise"
    )


class EnterpriseYear(Verified, Base):
    """One enterprise's figures for one year, with the statistics bureau's above-size status, the district the
    enterprise was in that year, and their verification."""

    __tablename__ = "enterprise_years"
    __table_args__ = (
        CheckConstraint("revenue_yuan >= 0", name="revenue_non_negative"),
        CheckConstraint("employees >= 0", name="employees_non_negative"),
        Index("ix_enterprise_years_year_above_scale", "year", "above_scale"),
        Index("ix_enterprise_years_year_district_code", "year", "district_code"),
        status_check(),
    )

    uscc: Mapped[str] = mapped_column(ForeignKey("enterprises.uscc", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    revenue_yuan: Mapped[Decimal]
    employees: Mapped[int] = mapped_column(Integer)
    above_scale: Mapped[bool]
    top500_service: Mapped[bool] = mapped_column(default=False)
    # The enterprise's district in that year: a move later does not rewrite the year's district statistics.
    district_code: Mapped[str] = mapped_column(ForeignKey("districts.code"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enterprise: Mapped[Enterprise] = relationship(back_populates="years", lazy="raise")
