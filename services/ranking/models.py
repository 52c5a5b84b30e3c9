"""Every model of the ranking service, so that Alembic sees one complete metadata."""

from services.ranking.db import Base
from services.ranking.methodologies.models import Methodology
from services.ranking.runs.models import Run

metadata = Base.metadata

__all__ = ["Methodology", "Run", "metadata"]
