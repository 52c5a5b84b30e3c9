from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from services.ranking.decimals import Six
from services.ranking.methodologies.schemas import (
    DEPRECATED_NEW_COUNT,
    TIE_BREAK_RULE,
    MethodologyWeights,
    TieBreakOut,
)
from services.ranking.upstream.schemas import RunInputs
from services.ranking.vocabulary import (
    BoundaryDecider,
    GrowthBasis,
    Normalisation,
    QualityCheck,
    RunStatus,
    api_key,
    with_both_names,
)
from shared.errors import Problem
from shared.identifiers import DistrictCode, Storable
from shared.money import Yuan

__all__ = ["RunStatus"]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(
        ge=1,
        le=9999,
        description="The year ranked; its figures are compared with the year before. It must be a year the policy "
        "rewards (the eligibility service's policy.first_rewarded_year … policy.last_rewarded_year) and have ended "
        "(today, Asia/Shanghai, after its 31 December)",
        examples=[2025],
    )
    methodology_version: Annotated[str | None, Storable] = Field(
        default=None, max_length=32, description="Leave out for the current default version"
    )
    as_of: date | None = Field(
        default=None,
        description="The date the award table is read for; it must lie within the policy's force (default: 31 "
        "December of the year ranked, moved into the force: the 2027 ranking, made in 2028, reads the table in "
        "force on 2027-12-31)",
    )


class RankingIndicatorValues(BaseModel):
    """One value per indicator of 第（六）条."""

    new_above_scale_count: Six
    net_increase: Six
    revenue_growth: Six
    new_count: Six = Field(description=DEPRECATED_NEW_COUNT, json_schema_extra={"deprecated": True})

    @model_validator(mode="before")
    @classmethod
    def _both_names(cls, data: object) -> object:
        return with_both_names(data)


class RankingRow(BaseModel):
    district_code: DistrictCode
    district_name: str
    new_above_scale_count: int = Field(description="New above-size enterprises (raw), as the registry counts them")
    new_count: int = Field(description=DEPRECATED_NEW_COUNT, json_schema_extra={"deprecated": True})
    exited_count: int
    net_increase: int = Field(description="Net increase of above-size enterprises (raw)")
    revenue_yuan: Yuan
    comparable_count: int = Field(description="Enterprises above size in both years (the growth base)")
    revenue_growth: Six | None = Field(description="Comparable revenue growth as the registry reported it")
    growth_used: Six = Field(description="The growth that counts: null as 0, capped below the minimum base")
    growth_capped: bool = Field(description="The minimum-base cap lowered this district's growth")
    indicators: RankingIndicatorValues = Field(description="The values normalised (after winsorisation, if any)")
    normalised: RankingIndicatorValues
    contributions: RankingIndicatorValues = Field(description="weight × normalised value")
    score: Six
    rank: int
    award_yuan: Yuan
    lead_over_lower_tier: Six | None = Field(
        description="Score above the best district of the next lower award tier (null without an award)"
    )
    gap_to_higher_tier: Six | None = Field(
        description="Score below the last district of the next higher tier (null in the top tier)"
    )
    # Runs stored before these fields existed read with the defaults (every district could take an award place).
    above_scale_count: int = Field(default=0, description="Above-size enterprises in the year (verified)")
    prior_above_scale_count: int = Field(default=0, description="Above-size enterprises in the base year")
    moved_in_count: int = Field(default=0, description="Above size, moved into the district between the years")
    moved_out_count: int = Field(default=0, description="Above size in the base year, moved out of the district")
    unreported_count: int = Field(
        default=0,
        description="Above size in the base year in the district, no verified record for the year: unreported, "
        "never counted as an exit",
    )
    awaiting_verification_count: int = Field(
        default=0, description="Records of the year in the district that wait for the city's verification"
    )
    award_eligible: bool = Field(
        default=True,
        description="False for a district with no above-size enterprise in the year or the base year: it takes no "
        "award place and is ranked after every district that has one",
    )
    award_ineligible_reason: str | None = Field(default=None, description="Why the district takes no award place")

    @model_validator(mode="before")
    @classmethod
    def _both_names(cls, data: object) -> object:
        return with_both_names(data)


class TiedDistrict(BaseModel):
    district_code: DistrictCode
    district_name: str
    rank: int
    award_yuan: Yuan


class BoundaryTieOut(BaseModel):
    boundary: str = Field(description="The award boundary, e.g. `5/6` or `10/11`", examples=["10/11"])
    last_rank_of_tier: int
    score: Six = Field(description="The score the districts share")
    decided_by: Annotated[BoundaryDecider, BeforeValidator(api_key)] = Field(
        description="The tie-break key that put the upper district above the lower one, or `district_code` when no "
        "indicator separates them (then publishing needs a reason)"
    )
    districts: list[TiedDistrict] = Field(description="Every award-eligible district with that score, in rank order")


class RunQualityFailure(BaseModel):
    check: QualityCheck
    district_code: DistrictCode | None
    msg: str


class RunQuality(BaseModel):
    passed: bool
    failures: list[RunQualityFailure]


class MethodologyUsed(BaseModel):
    version: str
    weights: MethodologyWeights
    normalisation: Normalisation
    growth_basis: GrowthBasis
    min_base: int
    winsorise: Six | None
    tie_break: TieBreakOut
    tie_break_rule: str = TIE_BREAK_RULE
    max_unreported_share: Six | None = Field(
        default=None, description="The gate's threshold (null in runs made before the gate had one)"
    )


class RankingChange(BaseModel):
    district_code: DistrictCode
    district_name: str
    previous_rank: int
    rank: int
    previous_award_yuan: Yuan
    award_yuan: Yuan


INPUT_HASH = (
    "sha256 (hex) of the canonical JSON (keys sorted, no whitespace, UTF-8) of `{year, inputs, methodology}` as "
    "stored: `methodology` without `tie_break_rule`, and with the indicator `new_above_scale_count` under its stored "
    "name `new_count` in `weights` (without the deprecated copy) and in `tie_break`"
)


class RunOut(BaseModel):
    run_id: int
    year: int
    status: RunStatus
    as_of: date
    methodology_version: str
    methodology: MethodologyUsed
    code_version: str
    input_hash: str = Field(description=INPUT_HASH)
    inputs: RunInputs = Field(description="The policy's force, the registry's statistics and the award table, as used")
    quality: RunQuality
    total_award_yuan: Yuan
    rows: list[RankingRow]
    boundary_ties: list[BoundaryTieOut] = Field(
        default_factory=list,
        description="Every award boundary at which two districts have equal scores, and the key that decided it",
    )
    code_decided_money: bool = Field(
        default=False,
        description="district_code (no indicator) decided an award boundary: publishing needs a reason",
    )
    created_at: datetime
    created_by: str
    published_at: datetime | None
    published_by: str | None
    publish_reason: str | None
    supersedes_run_id: int | None
    superseded_at: datetime | None
    superseded_by_run_id: int | None
    changes: list[RankingChange] | None = Field(description="Against the run this one superseded when published")


class RunPublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), Storable] | None = Field(
        default=None,
        description="Required when the year already has a published ranking, and when district_code decided an "
        "award boundary of the run (`code_decided_money`)",
    )


class RunPublishOut(BaseModel):
    run_id: int
    year: int
    status: RunStatus
    published_at: datetime
    published_by: str
    publish_reason: str | None
    supersedes_run_id: int | None
    changes: list[RankingChange] = Field(description="Districts whose rank or award differs from the superseded run")


class RunSummary(BaseModel):
    run_id: int
    year: int
    status: RunStatus
    as_of: date
    methodology_version: str
    code_version: str
    input_hash: str
    quality_passed: bool
    total_award_yuan: Yuan
    created_at: datetime
    created_by: str
    published_at: datetime | None


class RunPage(BaseModel):
    items: list[RunSummary] = Field(description="Newest first")
    next_cursor: str | None


class RunNotDraftProblem(Problem):
    """A run that is not a draft cannot be published (again)."""

    type: Literal["/problems/run-not-draft"]
    current_status: RunStatus = Field(description="The run's status: `published` or `superseded`")
    run_status: RunStatus = Field(
        description="Deprecated: `current_status` (the name of every 409's current state), for one release.",
        json_schema_extra={"deprecated": True},
    )


class RunPublishRefusedProblem(Problem):
    """Why a draft cannot be published as it is: the data-quality gate, or a reason the publication needs."""

    failures: list[RunQualityFailure] | None = Field(
        default=None, description="The data-quality gate's failures, when the run fails it"
    )
    boundary_ties: list[BoundaryTieOut] | None = Field(
        default=None, description="The award boundaries district_code decided, when a reason is missing for them"
    )
