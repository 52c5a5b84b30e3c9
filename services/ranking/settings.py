from datetime import date

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RankingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RANKING_", extra="ignore")

    service_name: str = "ranking"
    # The registry's district statistics and the eligibility service's M06 award table.
    registry_url: str = "http://127.0.0.1:8001"
    eligibility_url: str = "http://127.0.0.1:8002"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # Retries of an idempotent read after a transport error or a 502/503/504, with exponential backoff.
    upstream_retries: int = Field(default=2, ge=0, le=10)
    upstream_retry_backoff_seconds: float = Field(default=0.2, ge=0, le=30)
    # The parameter of the eligibility service that holds the award per rank (the money has one home).
    award_parameter: str = "m06.award_by_rank_yuan"
    # Ranking years the policy covers (渝发改规范〔2024〕7号 is in force 2024-11-19 … 2027-12-31).
    first_year: int = Field(default=2024, ge=2001, le=2100)
    last_year: int = Field(default=2027, ge=2001, le=2100)
    # An award table is read as of a date within the policy's force.
    policy_effective_from: date = date(2024, 11, 19)
    policy_effective_to: date = date(2027, 12, 31)
    # Sensitivity analysis: the most draws one request may ask for, the Dirichlet concentration around the nominal
    # weights (larger: closer to them), and the share of draws below which an award counts as fragile.
    sensitivity_max_draws: int = Field(default=100_000, ge=1, le=1_000_000)
    sensitivity_concentration: float = Field(default=100.0, gt=0, le=1_000_000)
    fragile_threshold: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered_ranges(self) -> "RankingSettings":
        if self.first_year > self.last_year:
            raise ValueError("RANKING_FIRST_YEAR must not be after RANKING_LAST_YEAR")
        if self.policy_effective_from > self.policy_effective_to:
            raise ValueError("the policy's effective period is empty")
        return self
