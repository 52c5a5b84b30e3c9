from services.eligibility.models import metadata
from services.eligibility.settings import EligibilitySettings
from shared.migrations import run_env

run_env(metadata, EligibilitySettings)
