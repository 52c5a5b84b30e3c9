from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator
from typing_extensions import TypeAliasType

from services.registry.verification.schemas import WithVerification
from shared.identifiers import DistrictCode, Name, Uscc
from shared.money import StoredYuan, Yuan
from shared.policy.vocabulary import ClusterGrade, ClusterTier

# An evaluation's score, 0–100 with two places, answered as a string like money.
Score = Annotated[
    Decimal,
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,3}\.\d{2}$", "examples": ["92.50"]}),
]


class BelongsToDistrict(BaseModel):
    """The cluster belongs to a district government (the M03 money goes to it)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["district"]
    district_code: DistrictCode


class BelongsToDepartment(BaseModel):
    """The cluster belongs to a city department or a development-zone committee (the M03 money goes to it)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["city_department"]
    department: Name = Field(
        examples=["两江新区管委会"], description="The city department or development-zone committee"
    )


BelongsTo = TypeAliasType(
    "BelongsTo",
    Annotated[
        BelongsToDistrict | BelongsToDepartment,
        Field(
            discriminator="kind",
            title="BelongsTo",
            description="隶属关系: the body a cluster belongs to, which receives its M03 money; `kind` tells which.",
        ),
    ],
)


def nest_belongs_to(data: Any) -> Any:
    """A before-validator: a plain row's (or an ORM row's) flat 隶属关系 columns become its `belongs_to` object."""
    if isinstance(data, dict):
        if "belongs_to" in data or "belongs_to_kind" not in data:
            return data
        flat = data
    elif hasattr(data, "belongs_to_kind"):
        flat = {
            name: getattr(data, name) for name in ("belongs_to_kind", "belongs_to_district", "belongs_to_department")
        }
        data = {name: getattr(data, name) for name in ("id", "name", "district_code", "manager_uscc", "evaluations")}
    else:
        return data
    data = {key: value for key, value in data.items() if not key.startswith("belongs_to_")}
    if flat["belongs_to_kind"] == "district":
        data["belongs_to"] = {"kind": "district", "district_code": flat["belongs_to_district"]}
    else:
        data["belongs_to"] = {"kind": "city_department", "department": flat["belongs_to_department"]}
    return data


def flat_belongs_to(belongs_to: BelongsToDistrict | BelongsToDepartment) -> dict[str, str | None]:
    if isinstance(belongs_to, BelongsToDistrict):
        return {
            "belongs_to_kind": "district",
            "belongs_to_district": belongs_to.district_code,
            "belongs_to_department": None,
        }
    return {
        "belongs_to_kind": "city_department",
        "belongs_to_district": None,
        "belongs_to_department": belongs_to.department,
    }


class ClusterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    district_code: DistrictCode
    manager_uscc: Uscc | None = Field(default=None, description="The enterprise that operates the cluster")
    belongs_to: BelongsTo | None = Field(
        default=None,
        description="隶属关系, whom the M03 money goes to: the cluster's district government (the default) or a city "
        "department (incl. a development-zone committee). Only the city names a department or another district.",
    )


class ClusterPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    belongs_to: BelongsTo


class ClusterEvaluationIn(BaseModel):
    """The year's evaluation; `tier` picks the M03 amount for an A grade (第（三）条)."""

    model_config = ConfigDict(extra="forbid")

    grade: ClusterGrade
    score: Decimal = Field(
        ge=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        description="0–100, at most two places; a string (or a number)",
        examples=["92.50"],
    )
    tier: ClusterTier | None = None


class ClusterEvaluationOut(WithVerification):
    year: int
    grade: ClusterGrade
    score: Score
    tier: ClusterTier | None


class ClusterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    district_code: DistrictCode
    manager_uscc: str | None = Field(examples=["91500103MA5U7XXXXH"])
    belongs_to: BelongsTo
    evaluations: list[ClusterEvaluationOut] = Field(description="By year")

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        return nest_belongs_to(data)


class ClusterPage(BaseModel):
    items: list[ClusterOut]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last")


class ClusterYearIn(BaseModel):
    """The cluster's revenue of the year (营业收入 of its enterprises, as the district or the city reports it)."""

    model_config = ConfigDict(extra="forbid")

    revenue_yuan: Yuan


class ClusterYearOut(WithVerification):
    year: int
    revenue_yuan: StoredYuan


class ClusterYears(BaseModel):
    cluster_id: int
    district_code: DistrictCode
    years: list[ClusterYearOut] = Field(description="By year")
