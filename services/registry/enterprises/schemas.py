import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from typing_extensions import TypeAliasType

from services.registry.verification.schemas import WithVerification
from shared.errors import Problem
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
    """One year's figures of an enterprise, with their verification."""

    year: int
    revenue_yuan: StoredYuan
    employees: int
    above_scale: bool = Field(description="Above designated size (规模（限额）以上) that year, the bureau's status")
    top500_service: bool = Field(description="Listed in 中国服务业企业500强 that year")
    district_code: DistrictCode = Field(description="The enterprise's district in that year")


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
    """An enterprise with its yearly figures; `version` is its ETag."""

    model_config = ConfigDict(from_attributes=True)

    uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    name: str
    district_code: DistrictCode
    sector: SectorCode
    established_on: date
    spun_off_from_manufacturer: bool
    parent_uscc: str | None
    spun_off_on: date | None
    version: int = Field(description="Counts the changes to the enterprise and its figures; the ETag is its value")
    created_at: datetime
    updated_at: datetime
    years: list[YearFiguresOut] = Field(description="By year")


class EnterprisePage(BaseModel):
    items: list[EnterpriseOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")


# The problem types a body of this model carries (named, with member names for generated clients).
EnterpriseConflictType = TypeAliasType(
    "EnterpriseConflictType",
    Annotated[
        Literal["/problems/enterprise-exists", "/problems/conflict"],
        Field(
            title="EnterpriseConflictType",
            description="The type of a 409 on an enterprise's credit code",
            json_schema_extra={"x-enum-varnames": ["ENTERPRISE_EXISTS", "CONFLICT"]},
        ),
    ],
)


class EnterpriseConflictProblem(Problem):
    """409: the credit code is registered already, or a registration of it waits for the city's confirmation."""

    type: EnterpriseConflictType = Field(
        description="`/problems/enterprise-exists`, or `/problems/conflict` when the database refused a "
        "simultaneous write"
    )
    uscc: str | None = Field(default=None, description="The credit code; absent on `/problems/conflict`")
    registration_id: int | None = Field(
        default=None, description="The held registration of the code, when one waits for the city"
    )


# The forms offices write a yes/no in, 是/否 first (trimmed, any case); any other text is refused by name.
_TRUE_WORDS = frozenset({"是", "true", "1"})
_FALSE_WORDS = frozenset({"否", "false", "0"})
# 2024-05-01, and 2024/5/1 as Excel on Chinese Windows writes a date in a CSV.
_DATE_TEXT = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_THOUSANDS_SEPARATORS = (",", "，")


class EnterpriseImportRow(EnterpriseCreate):
    """One row of a bulk import: an enterprise and, optionally, one year's figures (`year` with `revenue_yuan`,
    `employees` and `above_scale`).

    The same for every format: the booleans may also be written `是`/`否`, `true`/`false` or `1`/`0` (any case,
    trimmed), the dates `2024-05-01` or `2024/5/1`, and the numbers as digits without thousands separators
    (`1200000`, not `1,200,000`); money as a decimal string with at most two decimals.
    """

    year: Year | None = None
    revenue_yuan: Yuan | None = None
    employees: int | None = Field(default=None, ge=0, le=10_000_000)
    above_scale: bool | None = None
    top500_service: bool | None = None

    @field_validator("spun_off_from_manufacturer", "above_scale", "top500_service", mode="before")
    @classmethod
    def _office_boolean(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise ValueError("write yes or no as 是 or 否, true or false, 1 or 0")

    @field_validator("established_on", "spun_off_on", mode="before")
    @classmethod
    def _office_date(cls, value: Any) -> Any:
        # Only these two forms: pydantic would read digits (0, 1577836800) as a Unix timestamp and 20240501 or an
        # Excel serial (43831) as one with a time of day, none of which an office means by a date.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return value
        match = _DATE_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise ValueError("not a date; write it as 2024-05-01 or 2024/5/1")
        year, _, month, day = match.groups()
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            raise ValueError("not a date of the calendar; write it as 2024-05-01 or 2024/5/1") from None

    @field_validator("year", "revenue_yuan", "employees", mode="before")
    @classmethod
    def _no_thousands_separators(cls, value: Any) -> Any:
        if isinstance(value, str) and any(separator in value for separator in _THOUSANDS_SEPARATORS):
            raise ValueError("write the number without thousands separators: 1200000, not 1,200,000")
        return value

    @model_validator(mode="after")
    def _year_complete(self) -> "EnterpriseImportRow":
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


IMPORT_COLUMNS = tuple(EnterpriseImportRow.model_fields)


class ImportColumn(StrEnum):
    """A column of a bulk import (a CSV or sheet header cell, a JSON row key): the fields of EnterpriseImportRow."""

    name = "name"
    district_code = "district_code"
    sector = "sector"
    established_on = "established_on"
    spun_off_from_manufacturer = "spun_off_from_manufacturer"
    parent_uscc = "parent_uscc"
    spun_off_on = "spun_off_on"
    uscc = "uscc"
    year = "year"
    revenue_yuan = "revenue_yuan"
    employees = "employees"
    above_scale = "above_scale"
    top500_service = "top500_service"


class RowError(BaseModel):
    """What is wrong with one rejected row."""

    loc: list[str | int] = Field(description="The column (`uscc`, `revenue_yuan`, ...); `row` for the row as a whole")
    msg: str


class RejectedRow(BaseModel):
    row: int = Field(
        description="The data row, from 1: the header is not counted (nor, in a sheet, the rows above it); a JSON "
        "array's first item is row 1"
    )
    uscc: str | None = Field(description="The row's credit code as sent, when it has one")
    errors: list[RowError]


class ImportReport(BaseModel):
    """What an import did, row by row; the same for the same rows in every format."""

    rows: int = Field(description="Data rows received, the header not counted")
    created: int = Field(description="Enterprises that did not exist before")
    updated: int = Field(description="Existing enterprises whose data or figures changed")
    unchanged: int = Field(description="Existing enterprises the import left as they were")
    years_written: int = Field(description="Enterprise-years created or changed")
    rejected: list[RejectedRow] = Field(description="The rows not written, in row order, each with its errors")


# The problem types a body of this model carries (named, with member names for generated clients).
ImportProblemType = TypeAliasType(
    "ImportProblemType",
    Annotated[
        Literal["/problems/import-refused", "/problems/invalid-input"],
        Field(
            title="ImportProblemType",
            description="The type of an import's 422: refused for its header or its rows, or otherwise invalid",
            json_schema_extra={"x-enum-varnames": ["IMPORT_REFUSED", "INVALID_INPUT"]},
        ),
    ],
)


class ImportProblem(Problem):
    """An import refused as a whole (422): a header that does not name the import columns (`columns` lists them),
    or with `atomic=true` invalid rows (`rejected` lists every one, as the report would)."""

    type: ImportProblemType = Field(
        description="`/problems/import-refused` (with `columns` or `rejected`), or `/problems/invalid-input` for "
        "the other refusals (`errors` names them)"
    )
    columns: list[ImportColumn] | None = Field(default=None, description="The import's columns, for a header problem")
    rejected: list[RejectedRow] | None = Field(default=None, description="Every rejected row, for an atomic refusal")
