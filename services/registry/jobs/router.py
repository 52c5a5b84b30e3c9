"""`GET /jobs/{id}`, `GET /jobs/{id}/result`, `DELETE /jobs/{id}`: the registry's jobs (shared.jobs)."""

from services.registry.enterprises.schemas import ImportReport
from services.registry.jobs import store
from shared.jobs import jobs_router

# An import job's result is the report the synchronous import answers.
router = jobs_router(store, operation_prefix="Registry", results=[ImportReport])
