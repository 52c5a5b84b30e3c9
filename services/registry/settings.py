from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.admission import HeavyWorkSettings
from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    service_name: str = "registry"
    # Rows accepted by one POST /enterprises/import request.
    import_max_rows: int = Field(default=200_000, ge=1, le=1_000_000)
    # Bytes accepted by one import body (100,000 CSV rows are about 15 MB).
    import_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024**3)
    # Errors the report lists for one rejected row (a row has 14 columns; the rest of a garbage row's are left out).
    import_max_errors_per_row: int = Field(default=10, ge=1, le=50)
    # An import body larger than this many bytes is answered as a job (202, shared/jobs.py) even without `Prefer:
    # respond-async` (API.md: "or above a size threshold"): 8 MiB is about 55,000 CSV rows, seconds of work a
    # caller should not hold a connection open for. 0: only when asked.
    import_async_threshold_bytes: int = Field(default=8 * 1024 * 1024, ge=0, le=1024**3)
    # The worker process (`python -m services.registry.worker`): jobs run at once, and the seconds after which a
    # worker whose heartbeat stopped is taken for dead and its jobs retried by another (shared/queue.py).
    worker_concurrency: int = Field(default=2, ge=1, le=64)
    # Finished jobs (their input, their report) are kept this many days, then deleted by the worker at the cron's
    # time (UTC; 19:45 UTC is 03:45 in China).
    job_retention_days: int = Field(default=30, ge=1, le=3650)
    job_prune_cron: str = "45 19 * * *"
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=600)
    worker_stalled_after_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Heavy work admitted at once, in all and per caller (shared/admission.py; HEAVY_* variables).
    heavy: HeavyWorkSettings = Field(default_factory=HeavyWorkSettings)
