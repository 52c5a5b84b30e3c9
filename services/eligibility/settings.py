from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.admission import HeavyWorkSettings
from shared.settings import ServiceSettings


class EligibilitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ELIGIBILITY_", extra="ignore")

    service_name: str = "eligibility"
    # The registry this service reads (screening, matching, simulation).
    registry_url: str = "http://127.0.0.1:8001"
    registry_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    registry_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Retries of an idempotent read after a transport error or a 502/503/504, with exponential backoff.
    registry_retries: int = Field(default=3, ge=0, le=10)
    registry_retry_backoff_seconds: float = Field(default=0.2, ge=0, le=30)
    registry_page_size: int = Field(default=500, ge=1, le=500)
    # Paginated reads run per district, this many at once.
    registry_concurrency: int = Field(default=8, ge=1, le=64)
    # How long a process trusts its copy of the amendments before reading them again (other workers write too).
    parameters_refresh_seconds: float = Field(default=5.0, ge=0, le=3600)
    batch_max_items: int = Field(default=10_000, ge=1, le=100_000)
    # The ranking service, whose published ranking of a year caps an M06 award.
    ranking_url: str = "http://127.0.0.1:8003"
    ranking_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    ranking_retries: int = Field(default=2, ge=0, le=10)
    ranking_retry_backoff_seconds: float = Field(default=0.2, ge=0, le=30)
    # The award ledger: the notice window (公示期) in working days, Monday to Friday, fixed on each award when it is
    # publicised; and the most awards one export holds.
    award_notice_working_days: int = Field(default=5, ge=1, le=60)
    award_export_max_rows: int = Field(default=100_000, ge=1, le=1_000_000)
    # Heavy work admitted at once, in all and per caller (shared/admission.py; HEAVY_* variables).
    heavy: HeavyWorkSettings = Field(default_factory=HeavyWorkSettings)
