from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.db import Base


class District(Base):
    __tablename__ = "districts"
    __table_args__ = (CheckConstraint("kind IN ('district', 'county', 'autonomous_county')", name="kind"),)

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(20))


class Sector(Base):
    __tablename__ = "sectors"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(80))
