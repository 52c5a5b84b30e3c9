from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from shared.identifiers import DistrictCode, Name, Uscc

Score = Annotated[Decimal, PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json")]


class ClusterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district_code: DistrictCode
    manager_uscc: Uscc | None = Field(default=None, description="The body that manages the cluster (receives M03)")


class Evaluation(BaseModel):
    """The year's evaluation; `tier` picks the M03 amount for an A grade (第（三）条)."""

    model_config = ConfigDict(extra="forbid")

    grade: Literal["A", "B", "C", "D"]
    score: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    tier: int | None = Field(default=None, ge=1, le=9)


class EvaluationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year: int
    grade: str
    score: Score
    tier: int | None


class ClusterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    district_code: str
    manager_uscc: str | None
    evaluations: list[EvaluationOut]


class ClusterPage(BaseModel):
    items: list[ClusterOut]
    next_cursor: str | None
