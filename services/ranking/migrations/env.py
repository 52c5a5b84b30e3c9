from services.ranking.models import metadata
from services.ranking.settings import RankingSettings
from shared.migrations import run_env

run_env(metadata, RankingSettings)
