"""The registry's jobs (shared.jobs): long work submitted with `Prefer: respond-async` or too large to wait for."""

from services.registry.models import jobs
from shared.jobs import JobStore

store = JobStore(jobs)
