from gateway.models import metadata
from gateway.settings import GatewaySettings
from shared.migrations import run_env

run_env(metadata, GatewaySettings)
