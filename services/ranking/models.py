"""Every model of the ranking service, so that Alembic sees one complete metadata."""

from services.ranking.db import Base
from services.ranking.methodologies.models import Methodology
from services.ranking.runs.models import Run
from shared.nonces import nonce_table
from shared.outbox import outbox_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)
# Domain events, written with the change that causes them (shared.outbox).
outbox_events = outbox_table(metadata)

__all__ = ["Methodology", "Run", "metadata", "outbox_events", "request_nonces"]
