"""Every model of the eligibility service, so that Alembic sees one complete metadata."""

from services.eligibility.awards.models import Award, AwardEvent
from services.eligibility.calendar.models import OfficialCalendar
from services.eligibility.db import Base
from services.eligibility.parameters.models import ParameterAmendment
from services.eligibility.policies.models import Policy
from services.eligibility.reminders.models import PolicyExpiryNotice
from services.eligibility.screenings.models import ScreeningSnapshot, ScreeningSnapshotEntry
from shared.jobs import jobs_table
from shared.nonces import nonce_table
from shared.outbox import outbox_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)
# Domain events, written with the change that causes them (shared.outbox).
outbox_events = outbox_table(metadata)
# Long work run by the worker, as resources (shared.jobs, services.eligibility.jobs).
jobs = jobs_table(metadata)

__all__ = [
    "Award",
    "AwardEvent",
    "OfficialCalendar",
    "ParameterAmendment",
    "Policy",
    "PolicyExpiryNotice",
    "ScreeningSnapshot",
    "ScreeningSnapshotEntry",
    "jobs",
    "metadata",
    "outbox_events",
    "request_nonces",
]
