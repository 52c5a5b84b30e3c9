"""The eligibility service: `uvicorn --factory services.eligibility.main:create_app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.eligibility.awards.ranking import make_ranking_client
from services.eligibility.awards.router import router as awards_router
from services.eligibility.calculations.router import COMPUTATIONS
from services.eligibility.calculations.router import router as calculations_router
from services.eligibility.calendar.router import router as calendar_router
from services.eligibility.jobs.router import router as jobs_router
from services.eligibility.matches.router import router as matches_router
from services.eligibility.measures.router import router as measures_router
from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.parameters.router import router as parameters_router
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.policies.router import router as policies_router
from services.eligibility.registry_client.client import make_registry_client
from services.eligibility.screenings.router import router as screenings_router
from services.eligibility.settings import EligibilitySettings
from services.eligibility.simulations.router import router as simulations_router
from shared.app import create_service_app
from shared.outbox import outbox_router
from shared.queue import QUEUE_JOBS, sampled_metrics

DESCRIPTION = """渝发改规范〔2024〕7号 as code: the catalogue of the 16 measures, parameters with dated values,
citations and the policy's bounds, a calculator that explains every yuan, screening of the registry (免申即享), matching
of an enterprise to the measures that apply (第三十二条 of 渝府发〔2024〕18号), and what-if simulations."""

# Each router's tag, as the document describes it.
TAGS = [
    {"name": "health", "description": "Probes: the process is alive; the service and its database can answer."},
    {
        "name": "measures",
        "description": "The 16 measures of 渝发改规范〔2024〕7号: who may receive what, under which clause.",
    },
    {
        "name": "parameters",
        "description": "The amounts, rates and caps the rules read, each with its dated values, its citation and the "
        "bounds the policy sets; the city amends them.",
    },
    {
        "name": "calculate",
        "description": "The rules applied to facts the caller gives: the amount a measure allows, with every step "
        "and its citation, or why it allows nothing.",
    },
    {
        "name": "screenings",
        "description": "免申即享: the registry's verified records of a year run through the rules, the subjects each "
        "measure would pay and the totals.",
    },
    {
        "name": "matches",
        "description": "An enterprise of the registry matched to the measures that apply to it (第三十二条 of "
        "渝府发〔2024〕18号).",
    },
    {
        "name": "simulations",
        "description": "What-if: a screening run again with parameters overridden, compared with the one in force.",
    },
    {
        "name": "awards",
        "description": "The award ledger: proposals held to what the rules allow and to 就高不重复, the approval, "
        "notice (公示), objection and payment steps, and the exports.",
    },
    {"name": "policies", "description": "The policies awards are made under, registered by their document number."},
    {
        "name": "calendar",
        "description": "China's official working days, as the notice windows (公示期) count them: the city's records "
        "of each year's schedule over the calendar library.",
    },
    {
        "name": "jobs",
        "description": "Long work submitted with `Prefer: respond-async` (a screening, an awards export): its status, "
        "progress and result, and its cancellation.",
    },
]


def create_app(settings: EligibilitySettings | None = None) -> FastAPI:
    settings = settings or EligibilitySettings()

    @asynccontextmanager
    async def parameter_store(app: FastAPI) -> AsyncIterator[None]:
        store = ParameterStore(load_parameter_set(), app.state.sessionmaker, settings.parameters_refresh_seconds)
        await store.reload()
        app.state.parameter_store = store
        yield

    @asynccontextmanager
    async def service_clients(app: FastAPI) -> AsyncIterator[None]:
        """The pooled clients of the registry and the ranking service (reached through services.eligibility.
        dependencies)."""
        app.state.registry = registry = make_registry_client(settings)
        app.state.ranking = ranking = make_ranking_client(settings)
        try:
            yield
        finally:
            await registry.aclose()
            await ranking.aclose()

    return create_service_app(
        settings=settings,
        title="Eligibility",
        version="1.0.0",
        description=DESCRIPTION,
        routers=[
            measures_router,
            parameters_router,
            calculations_router,
            screenings_router,
            matches_router,
            simulations_router,
            awards_router,
            policies_router,
            calendar_router,
            jobs_router,
            outbox_router("eligibility"),
        ],
        lifespan_hooks=[parameter_store, service_clients, sampled_metrics(QUEUE_JOBS)],
        computations=COMPUTATIONS,
        tags=TAGS,
    )
