"""`GET /jobs/{id}`, `GET /jobs/{id}/result`, `DELETE /jobs/{id}`: the registry's jobs (shared.jobs)."""

from services.registry.jobs import store
from shared.jobs import jobs_router

router = jobs_router(store, operation_prefix="Registry")
