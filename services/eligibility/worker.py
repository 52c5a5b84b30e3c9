"""The eligibility service's worker: `python -m services.eligibility.worker` runs its jobs (screenings and awards
exports submitted with `Prefer: respond-async`) and its periodic work (the nightly screening snapshots, the daily
`policy.expiring` reminders), services.eligibility.tasks.

As many replicas as wanted may run beside each other on the eligibility database: procrastinate hands each job to
one worker and defers each periodic task once per tick whatever the number of workers; the jobs of a worker that
dies (its heartbeat stops) are retried by the others (shared.queue). SIGTERM lets the running jobs finish first.
It reads the registry (the screenings), as the service does, signed as the eligibility service.
"""

import asyncio
import logging
import os
import socket
from pathlib import Path

from services.eligibility.parameters.definitions import load_parameter_set
from services.eligibility.parameters.store import ParameterStore
from services.eligibility.registry_client.client import make_registry_client
from services.eligibility.settings import EligibilitySettings
from services.eligibility.tasks import Upstreams, make_tasks
from shared.clock import Clock
from shared.db import make_engine, make_sessionmaker
from shared.logging import configure_logging
from shared.queue import WorkerResources, make_queue, run_worker

logger = logging.getLogger(__name__)


async def main(settings: EligibilitySettings | None = None, *, install_signal_handlers: bool = True) -> None:
    settings = settings or EligibilitySettings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    # A running job holds at most one connection at a time (its progress reports are outside its work's transaction).
    engine = make_engine(
        settings.database_url,
        pool_size=settings.worker_concurrency,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout,
        echo=settings.database_echo,
    )
    sessions = make_sessionmaker(engine)
    registry = make_registry_client(settings)
    try:
        parameters = ParameterStore(load_parameter_set(), sessions, settings.parameters_refresh_seconds)
        await parameters.reload()
        app = make_queue(settings.database_url, make_tasks(settings), namespace="eligibility", pool_size=2)
        resources = WorkerResources(
            sessions=sessions, settings=settings, http=Upstreams(registry, parameters, Clock(settings.today))
        )
        await run_worker(
            app,
            resources,
            name=f"eligibility-{socket.gethostname()}-{os.getpid()}",
            concurrency=settings.worker_concurrency,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            stalled_after_seconds=settings.worker_stalled_after_seconds,
            install_signal_handlers=install_signal_handlers,
            # Touched at each heartbeat while the database answers: the exec probe of compose and Kubernetes.
            health_file=Path(health) if (health := os.environ.get("WORKER_HEALTH_FILE")) else None,
        )
    finally:
        await registry.aclose()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
