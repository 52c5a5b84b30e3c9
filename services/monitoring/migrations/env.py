from services.monitoring.models import metadata
from services.monitoring.settings import MonitoringSettings
from shared.migrations import run_env

run_env(metadata, MonitoringSettings)
