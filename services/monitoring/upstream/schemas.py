"""What this service reads from its upstreams, validated as it arrives (a malformed answer is a 503, not a guess)."""

from decimal import Decimal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from shared.money import StoredYuan


class _Upstream(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StatsCell(_Upstream):
    district_code: str
    sector: str
    above_scale_count: int = Field(ge=0)
    revenue_yuan: Decimal = Field(ge=0)
    employees: int = Field(ge=0)
    new_above_scale_since_baseline: int = Field(ge=0)
    # The registry's cells said `prior_year_…` before issue 14; a registry not yet upgraded is still read.
    prior_above_scale_count: int = Field(
        ge=0, validation_alias=AliasChoices("prior_above_scale_count", "prior_year_above_scale_count")
    )
    prior_revenue_yuan: Decimal = Field(
        ge=0, validation_alias=AliasChoices("prior_revenue_yuan", "prior_year_revenue_yuan")
    )


class ClusterRevenue(_Upstream):
    cluster_id: int
    name: str
    district_code: str
    revenue_yuan: Decimal = Field(ge=0)


class LeadingCount(_Upstream):
    district_code: str
    sector: str
    count: int = Field(ge=0)


class MonitoringStats(_Upstream):
    """The registry's GET /monitoring-stats/{year}: verified figures only."""

    year: int
    baseline_year: int
    cells: list[StatsCell]
    clusters: list[ClusterRevenue]
    leading_enterprises: list[LeadingCount]


class AwardGroup(_Upstream):
    district_code: str | None = None
    count: int = Field(ge=0)
    amount_yuan: StoredYuan


class AwardSummary(_Upstream):
    """The eligibility service's GET /awards/summary, grouped by district."""

    groups: list[AwardGroup]
