from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from services.registry.verification.schemas import WithVerification
from shared.identifiers import DistrictCode, Name, SectorCode, Uscc, Year
from shared.money import StoredYuan, Yuan

Employees = Field(ge=0, le=10_000_000)
EARLIEST_ESTABLISHMENT = date(1949, 10, 1)


class YearFigures(BaseModel):
    """One year's figures; `above_scale` is the statistics bureau's status (规模（限额）以上) for that year."""

    model_config = ConfigDict(extra="forbid")

    revenue_yuan: Yuan
    employees: int = Employees
    above_scale: bool
    top500_service: bool = Field(default=False, description="Listed in 中国服务业企业500强 that year")
    district_code: DistrictCode | None = Field(
        default=None,
        description="The district the enterprise was in that year. Default: the district the record already names, "
        "or for a new record the enterprise's current district. A district key may name only its own.",
    )


class YearFiguresOut(WithVerification):
    year: int
    revenue_yuan: StoredYuan
    employees: int
    above_scale: bool
    top500_service: bool
    district_code: str = Field(description="The enterprise's district in that year")


class EnterpriseFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district_code: DistrictCode
    sector: SectorCode
    established_on: date = Field(ge=EARLIEST_ESTABLISHMENT)
    spun_off_from_manufacturer: bool = Field(
        default=False, description="Set up by a manufacturer spinning off (主辅分离)"
    )
    parent_uscc: Uscc | None = Field(
        default=None,
        validate_default=True,
        description="The manufacturer it was spun off from (主辅分离): required when spun_off_from_manufacturer is "
        "true, absent otherwise",
    )
    spun_off_on: date | None = Field(
        default=None,
        ge=EARLIEST_ESTABLISHMENT,
        validate_default=True,
        description="The date of the spin-off: required when spun_off_from_manufacturer is true, absent otherwise",
    )

    @field_validator("parent_uscc", "spun_off_on", mode="after")
    @classmethod
    def _only_for_a_spin_off(cls, value: Any, info: ValidationInfo) -> Any:
        spun_off = info.data.get("spun_off_from_manufacturer")
        if spun_off is True and value is None:
            raise ValueError("required when spun_off_from_manufacturer is true (主辅分离)")
        if spun_off is False and value is not None:
            raise ValueError("only for an enterprise spun off from a manufacturer (spun_off_from_manufacturer true)")
        return value


class EnterpriseCreate(EnterpriseFields):
    uscc: Uscc


class EnterprisePatch(BaseModel):
    """Only the fields sent change; `uscc` never does."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    district_code: DistrictCode | None = None
    sector: SectorCode | None = None
    established_on: date | None = Field(default=None, ge=EARLIEST_ESTABLISHMENT)
    spun_off_from_manufacturer: bool | None = None
    # Null clears them (with spun_off_from_manufacturer false); the result is checked as a whole.
    parent_uscc: Uscc | None = None
    spun_off_on: date | None = Field(default=None, ge=EARLIEST_ESTABLISHMENT)

    @model_validator(mode="after")
    def _no_nulls(self) -> "EnterprisePatch":
        clearable = {"parent_uscc", "spun_off_on"}
        nulls = [name for name in self.model_fields_set - clearable if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"these fields cannot be null: {', '.join(sorted(nulls))}")
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self


class EnterpriseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    uscc: str
    name: str
    district_code: str
    sector: str
    established_on: date
    spun_off_from_manufacturer: bool
    parent_uscc: str | None
    spun_off_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    years: list[YearFiguresOut]


class EnterprisePage(BaseModel):
    items: list[EnterpriseOut]
    next_cursor: str | None


class ImportRow(EnterpriseCreate):
    """One row of a bulk import: an enterprise and, optionally, one year's figures."""

    year: Year | None = None
    revenue_yuan: Yuan | None = None
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    above_scale: bool | None = None
    top500_service: bool | None = None

    @model_validator(mode="after")
    def _year_complete(self) -> "ImportRow":
        figures = {"revenue_yuan": self.revenue_yuan, "employees": self.employees, "above_scale": self.above_scale}
        if self.year is None:
            given = [name for name, value in figures.items() if value is not None]
            if given or self.top500_service is not None:
                raise ValueError("yearly figures need a `year`")
        else:
            missing = [name for name, value in figures.items() if value is None]
            if missing:
                raise ValueError(f"a row with a year needs {', '.join(missing)}")
        return self

    def figures(self) -> YearFigures | None:
        if self.year is None:
            return None
        return YearFigures.model_construct(
            revenue_yuan=self.revenue_yuan or Decimal("0.00"),
            employees=self.employees or 0,
            above_scale=bool(self.above_scale),
            top500_service=bool(self.top500_service),
        )


IMPORT_COLUMNS = tuple(ImportRow.model_fields)


class RowError(BaseModel):
    loc: list[str | int]
    msg: str


class RejectedRow(BaseModel):
    row: int
    uscc: str | None
    errors: list[RowError]


class ImportReport(BaseModel):
    rows: int = Field(description="Data rows received, the header not counted")
    created: int = Field(description="Enterprises that did not exist before")
    updated: int = Field(description="Existing enterprises whose data or figures changed")
    unchanged: int = Field(description="Existing enterprises the import left as they were")
    years_written: int = Field(description="Enterprise-years created or changed")
    rejected: list[RejectedRow]
