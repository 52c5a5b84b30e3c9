from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.admission import HeavyWorkSettings
from shared.settings import ServiceSettings


class MonitoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MONITORING_", extra="ignore")

    service_name: str = "monitoring"
    # The registry's figures (monitoring statistics) and the eligibility service's award ledger (the map's awards).
    registry_url: str = "http://127.0.0.1:8001"
    eligibility_url: str = "http://127.0.0.1:8002"
    upstream_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Retries of an idempotent read after a transport error or a 502/503/504, with exponential backoff.
    upstream_retries: int = Field(default=2, ge=0, le=10)
    upstream_retry_backoff_seconds: float = Field(default=0.2, ge=0, le=30)
    # The registry's aggregates one process asks for at once. The registry admits each caller 10 units of heavy
    # work (HEAVY_CALLER_UNITS) and an aggregate costs 1: with 4, two replicas of this service stay within it.
    registry_concurrent_reads: int = Field(default=4, ge=1, le=10)
    # A CJK font for the pictures' Chinese text; unset: WenQuanYi Micro Hei (Debian's fonts-wqy-microhei) or
    # whatever fontconfig matches for zh.
    cjk_font_file: Path | None = None
    # Heavy work admitted at once, in all and per caller (shared/admission.py; HEAVY_* variables): the pictures
    # and the workbook.
    heavy: HeavyWorkSettings = Field(default_factory=HeavyWorkSettings)
