"""The registry's worker: `python -m services.registry.worker` runs the registry's jobs (the bulk import).

As many replicas as wanted may run beside each other on the registry's database: procrastinate hands each job to
one worker, and the jobs of a worker that dies (its heartbeat stops) are retried by the others (shared.queue).
SIGTERM lets the running jobs finish first.
"""

import asyncio
import logging
import os
import socket
from pathlib import Path

from services.registry.enterprises.tasks import blueprint
from services.registry.jobs import store
from services.registry.settings import RegistrySettings
from shared.db import make_engine, make_sessionmaker
from shared.jobs import add_pruning
from shared.logging import configure_logging
from shared.queue import WorkerResources, make_queue, run_worker

logger = logging.getLogger(__name__)


async def main(settings: RegistrySettings | None = None) -> None:
    settings = settings or RegistrySettings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    # Each running import holds one connection for its work and takes a second, briefly, for each progress report
    # (and its start and end): two per job at once, no overflow. With the queue's (2 + 1 for LISTEN), a worker of
    # the default concurrency (2) holds at most 7 connections.
    engine = make_engine(
        settings.database_url,
        pool_size=2 * settings.worker_concurrency,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout,
        echo=settings.database_echo,
    )
    health_file = os.environ.get("WORKER_HEALTH_FILE")
    try:
        add_pruning(blueprint, store, cron=settings.job_prune_cron, retention_days=settings.job_retention_days)
        app = make_queue(settings.database_url, blueprint, namespace="registry", pool_size=2)
        resources = WorkerResources(sessions=make_sessionmaker(engine), settings=settings)
        await run_worker(
            app,
            resources,
            name=f"registry-{socket.gethostname()}-{os.getpid()}",
            concurrency=settings.worker_concurrency,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            stalled_after_seconds=settings.worker_stalled_after_seconds,
            health_file=Path(health_file) if health_file else None,
        )
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
