"""Every model of the ranking service, so that Alembic sees one complete metadata."""

from services.ranking.db import Base
from services.ranking.methodologies.models import Methodology
from services.ranking.runs.models import Run
from shared.nonces import nonce_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)

__all__ = ["Methodology", "Run", "metadata", "request_nonces"]
