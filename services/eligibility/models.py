"""Every model of the eligibility service, so that Alembic sees one complete metadata."""

from services.eligibility.awards.models import Award, AwardEvent
from services.eligibility.calendar.models import OfficialCalendar
from services.eligibility.db import Base
from services.eligibility.parameters.models import ParameterAmendment
from services.eligibility.policies.models import Policy
from shared.nonces import nonce_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)

__all__ = ["Award", "AwardEvent", "OfficialCalendar", "ParameterAmendment", "Policy", "metadata", "request_nonces"]
