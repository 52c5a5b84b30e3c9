"""Every model of the registry, so that Alembic sees one complete metadata."""

from services.registry.audit.models import AuditEntry
from services.registry.buildings.models import Building, BuildingYear
from services.registry.clusters.models import Cluster, ClusterEvaluation, ClusterYear
from services.registry.db import Base
from services.registry.designations.models import LeadingDesignation
from services.registry.enterprises.models import Enterprise, EnterpriseYear
from services.registry.idempotency.models import IdempotentRequest
from services.registry.projects.models import Project
from services.registry.reference.models import District, Sector
from services.registry.registrations.models import EnterpriseRegistration
from shared.jobs import jobs_table
from shared.nonces import nonce_table
from shared.outbox import outbox_table

metadata = Base.metadata
# Signed writes already accepted (shared.nonces).
request_nonces = nonce_table(metadata)
# Long work submitted as jobs (shared.jobs): the bulk import.
jobs = jobs_table(metadata)
# Domain events, written with the change that causes them (shared.outbox).
outbox_events = outbox_table(metadata)

__all__ = [
    "AuditEntry",
    "Building",
    "BuildingYear",
    "Cluster",
    "ClusterEvaluation",
    "ClusterYear",
    "District",
    "Enterprise",
    "EnterpriseRegistration",
    "EnterpriseYear",
    "IdempotentRequest",
    "LeadingDesignation",
    "Project",
    "Sector",
    "jobs",
    "metadata",
    "outbox_events",
    "request_nonces",
]
