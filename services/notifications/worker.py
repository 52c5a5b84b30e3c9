"""The notifications worker: `python -m services.notifications.worker`.

One process runs procrastinate's worker on the service's database (the deliveries, `notifications:deliver`) and,
beside it, the relay loop pulling the producers' outbox feeds. Replicas share both: jobs are taken one at a time,
and each source's batch is relayed by whichever replica locks its cursor first. SIGTERM stops it after the
running deliveries finish (shared.queue.run_worker).
"""

import asyncio
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import procrastinate

from services.notifications.deliveries import task
from services.notifications.relay import service as relay
from services.notifications.settings import NotificationsSettings
from shared.db import make_engine, make_sessionmaker
from shared.http import ServiceClient, service_client
from shared.logging import configure_logging
from shared.queue import WorkerResources, make_queue, run_worker

NAMESPACE = "notifications"


@dataclass(frozen=True, slots=True)
class WorkerClients:
    webhooks: task.WebhookClients
    sources: Mapping[str, ServiceClient]

    async def aclose(self) -> None:
        await self.webhooks.aclose()
        for client in self.sources.values():
            await client.http.aclose()


def make_clients(
    settings: NotificationsSettings, transports: Mapping[str, httpx.AsyncBaseTransport] | None = None
) -> WorkerClients:
    """The endpoints' client and the producers' signed clients (`transports`: in-process producers, for tests)."""
    sources = {
        name: service_client(
            name,
            url,
            secret=settings.internal.secret,
            timeout_seconds=settings.upstream_timeout_seconds,
            retries=settings.upstream_retries,
            backoff_seconds=settings.upstream_retry_backoff_seconds,
            transport=(transports or {}).get(name),
        )
        for name, url in settings.sources().items()
        if transports is None or name in transports
    }
    return WorkerClients(task.WebhookClients.make(settings), sources)


def make_app(settings: NotificationsSettings) -> procrastinate.App:
    app = make_queue(settings.database_url, task.make_blueprint(settings), namespace=NAMESPACE, pool_size=2)
    app.worker_defaults["fetch_job_polling_interval"] = settings.worker_poll_seconds
    return app


async def serve(
    settings: NotificationsSettings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    install_signal_handlers: bool = True,
    relay_enabled: bool = True,
    health_file: Path | None = None,
) -> None:
    """The worker until SIGTERM (or cancellation)."""
    # A delivery holds a connection only to read and to log its try, never while it waits for the endpoint: a few
    # connections serve many deliveries in flight; one more is the relay's.
    engine = make_engine(
        settings.database_url,
        pool_size=settings.worker_database_connections + 1,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout,
    )
    sessions = make_sessionmaker(engine)
    clients = make_clients(settings, transports)
    resources = WorkerResources(sessions=sessions, settings=settings, http=clients)
    loops: list[Callable[[], Coroutine[Any, Any, None]]] = []
    if relay_enabled:

        async def relay_loop() -> None:
            await relay.run(
                sessions, clients.sources, limit=settings.relay_batch, poll_seconds=settings.relay_poll_seconds
            )

        loops.append(relay_loop)
    try:
        await run_worker(
            make_app(settings),
            resources,
            name=NAMESPACE,
            concurrency=settings.worker_concurrency,
            heartbeat_seconds=settings.worker_heartbeat_seconds,
            stalled_after_seconds=settings.worker_stalled_after_seconds,
            loops=loops,
            install_signal_handlers=install_signal_handlers,
            health_file=health_file,
        )
    finally:
        await clients.aclose()
        await engine.dispose()


def main() -> None:
    settings = NotificationsSettings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    health = os.environ.get("WORKER_HEALTH_FILE")
    asyncio.run(serve(settings, health_file=Path(health) if health else None))


if __name__ == "__main__":
    main()
