from pydantic import BaseModel, ConfigDict, Field

from services.registry.verification.schemas import WithVerification
from shared.identifiers import DistrictCode, Name, Uscc
from shared.money import StoredYuan, Yuan


class BuildingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district_code: DistrictCode
    stars: int = Field(ge=1, le=5, description="The star grade (星级), 1–5")
    operator_uscc: Uscc = Field(description="The enterprise that operates the building")


class BuildingYearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revenue_yuan: Yuan


class BuildingYearOut(WithVerification):
    year: int
    revenue_yuan: StoredYuan


class BuildingOut(WithVerification):
    """A star building; its `verification` is that of its star grade (the city's)."""

    id: int
    name: str
    district_code: DistrictCode
    stars: int = Field(ge=1, le=5)
    operator_uscc: str = Field(examples=["91500103MA5U7XXXXH"])
    years: list[BuildingYearOut] = Field(description="By year")


class BuildingPage(BaseModel):
    items: list[BuildingOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")
