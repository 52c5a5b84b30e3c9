from pydantic import BaseModel, ConfigDict, Field

from services.registry.verification.schemas import WithVerification
from shared.identifiers import DistrictCode, Name, Uscc
from shared.money import StoredYuan, Yuan


class BuildingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district_code: DistrictCode
    stars: int = Field(ge=1, le=5)
    operator_uscc: Uscc


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
    district_code: str
    stars: int
    operator_uscc: str
    years: list[BuildingYearOut]


class BuildingPage(BaseModel):
    items: list[BuildingOut]
    next_cursor: str | None
