from typing import Annotated

from croniter import croniter  # type: ignore[import-untyped]  # no stubs pinned in this project
from pydantic import AfterValidator, Field
from pydantic_settings import SettingsConfigDict

from shared.admission import HeavyWorkSettings
from shared.settings import ServiceSettings


def _cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron expression (minute hour day month weekday)")
    return value


# A cron expression, as procrastinate's periodic tasks read it (in UTC).
Cron = Annotated[str, AfterValidator(_cron)]


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
    # The worker (python -m services.eligibility.worker): jobs run at once by one worker process.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Its heartbeat, and how old another worker's may be before that worker's running jobs are run again.
    worker_heartbeat_seconds: float = Field(default=10.0, gt=0, le=600)
    worker_stalled_after_seconds: float = Field(default=60.0, gt=0, le=3600)
    # The nightly screening of every year in force, stored as snapshots (services.eligibility.screenings.snapshots):
    # when (a cron expression in UTC, procrastinate's periodic tasks: 18:00 UTC is 02:00 in China), how many
    # snapshots of a year are kept (the newest; older ones are deleted), and the waits between the tries of a year
    # whose screening failed (the registry unreachable), in seconds.
    snapshot_cron: Cron = "0 18 * * *"
    snapshot_keep_per_year: int = Field(default=30, ge=2, le=3660)
    snapshot_retry_waits_seconds: list[float] = Field(default=[60.0, 600.0, 3600.0], max_length=20)
    # policy.expiring: the daily look at the registered policies (00:00 UTC is 08:00 in China) and how many days
    # before a policy's effective_to the one event is recorded — an operational setting, not a policy parameter
    # (services.eligibility.reminders.service says why).
    policy_expiry_cron: Cron = "0 0 * * *"
    # Finished jobs (their results: screenings, export files) are kept this many days, then deleted by the worker
    # at the cron's time (UTC; 19:45 UTC is 03:45 in China).
    job_retention_days: int = Field(default=30, ge=1, le=3650)
    job_prune_cron: Cron = "45 19 * * *"
    policy_expiry_notice_days: int = Field(default=30, ge=1, le=366)
