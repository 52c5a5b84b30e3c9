"""The registry service: `uvicorn --factory services.registry.main:create_app`."""

from fastapi import FastAPI

from services.registry.audit.router import router as audit_router
from services.registry.buildings.router import router as buildings_router
from services.registry.clusters.router import router as clusters_router
from services.registry.designations.router import router as designations_router
from services.registry.enterprises.router import router as enterprises_router
from services.registry.jobs.router import router as jobs_router
from services.registry.monitoring.router import router as monitoring_router
from services.registry.projects.router import router as projects_router
from services.registry.reference.router import router as reference_router
from services.registry.registrations.router import router as registrations_router
from services.registry.settings import RegistrySettings
from services.registry.stats.router import router as stats_router
from services.registry.verification.router import router as verification_router
from shared.app import create_service_app
from shared.outbox import outbox_router
from shared.queue import QUEUE_JOBS, sampled_metrics

DESCRIPTION = """The system of record: the 38 districts, the 18 sectors, enterprises by unified social credit code
with their yearly figures and above-size status, clusters with their grades and yearly revenue, 市级领军企业
designations, star buildings, and the projects, platforms and events that apply for money under 渝发改规范〔2024〕7号.
Every write is audited; the facts that decide money carry their verification by the city."""

# Each router's tag, as the document describes it.
TAGS = [
    {"name": "health", "description": "Probes: the process is alive; the service and its database can answer."},
    {"name": "reference", "description": "The 38 districts and the 18 producer-service sectors, with their codes."},
    {
        "name": "enterprises",
        "description": "Enterprises by unified social credit code, their yearly figures and above-size status, the "
        "bulk import, and the registrations of another district's credit codes that wait for the city.",
    },
    {"name": "clusters", "description": "Producer-service clusters (集聚区): tiers, yearly evaluations and revenue."},
    {"name": "buildings", "description": "Star buildings (星级楼宇) and their yearly figures."},
    {
        "name": "projects",
        "description": "Projects, platforms and events that apply for money under 渝发改规范〔2024〕7号, with the "
        "facts that decide it.",
    },
    {
        "name": "verification",
        "description": "The city's verification of the facts that decide money: the queue, and verifying or "
        "rejecting each record or many at once.",
    },
    {
        "name": "district statistics",
        "description": "Each district's yearly counts of above-size enterprises and their revenue growth, as the "
        "ranking reads them.",
    },
    {"name": "leading enterprises", "description": "市级领军企业 designations and their revocation."},
    {
        "name": "monitoring statistics",
        "description": "The yearly figures by district and sector that the monitoring of the plan's targets reads.",
    },
    {"name": "audit", "description": "Every write to the registry: who, when, and the record before and after."},
    {
        "name": "jobs",
        "description": "Long work submitted with `Prefer: respond-async` (an import of many rows): its status, "
        "progress and result, and its cancellation.",
    },
]


def create_app(settings: RegistrySettings | None = None) -> FastAPI:
    settings = settings or RegistrySettings()
    return create_service_app(
        settings=settings,
        title="Registry",
        version="1.0.0",
        description=DESCRIPTION,
        routers=[
            reference_router,
            enterprises_router,
            registrations_router,
            clusters_router,
            buildings_router,
            projects_router,
            verification_router,
            stats_router,
            designations_router,
            monitoring_router,
            audit_router,
            jobs_router,
            outbox_router("registry"),
        ],
        lifespan_hooks=[sampled_metrics(QUEUE_JOBS)],
        reads_without_transaction=True,
        body_limits={"/enterprises/import": settings.import_max_bytes},
        tags=TAGS,
    )
