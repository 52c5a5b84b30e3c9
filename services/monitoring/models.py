"""Every model of the monitoring service, so that Alembic sees one complete metadata."""

from services.monitoring.db import Base
from services.monitoring.observations.models import Observation
from services.monitoring.publications.models import Publication
from shared.nonces import nonce_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)

__all__ = ["Observation", "Publication", "metadata", "request_nonces"]
