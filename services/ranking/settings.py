from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.admission import HeavyWorkSettings
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
    # The years the policy rewards and its force are not kept here: they are read from the eligibility service's
    # parameters (GET /parameters?measure_id=policy) for every run and check, so they have one home.

    # Sensitivity analysis: the most draws one request may ask for, the Dirichlet concentration around the nominal
    # weights (larger: closer to them), and the share of draws below which an award counts as fragile.
    sensitivity_max_draws: int = Field(default=100_000, ge=1, le=1_000_000)
    sensitivity_concentration: float = Field(default=100.0, gt=0, le=1_000_000)
    fragile_threshold: float = Field(default=0.8, gt=0, le=1)
    # Heavy work admitted at once, in all and per caller (shared/admission.py; HEAVY_* variables).
    heavy: HeavyWorkSettings = Field(default_factory=HeavyWorkSettings)
