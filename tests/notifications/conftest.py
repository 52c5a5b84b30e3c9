"""The notifications service on its own database; a webhook receiver on 127.0.0.1; a producer's outbox feed; the
worker (procrastinate and the relay) running in this process."""

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import text

from services.notifications import SERVICE_DIR as NOTIFICATIONS_DIR
from services.notifications.main import create_app
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import serve
from shared.auth import Principal
from tests.support import CITY, TestDatabase, asgi_client, truncate

# In the order the app's metrics sampler reads them (queue, deliveries, relay cursors): a TRUNCATE between tests
# takes its locks in this order too, so that it never deadlocks with a sample being taken.
NOTIFICATIONS_TABLES = (
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_workers",
    "delivery_attempts",
    "deliveries",
    "events",
    "subscriptions",
    "relay_cursors",
)
# Tries a second apart in the tests (hours in production): three tries, then dead; two dead in a row pause.
TEST_SCHEDULE = [0.3, 0.3]


def notifications_settings(database_url: str, **overrides: object) -> NotificationsSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": "test",
        "allowed_networks": ["127.0.0.0/8"],
        "retry_schedule_seconds": TEST_SCHEDULE,
        "pause_after_dead": 2,
        "relay_poll_seconds": 0.05,
        "worker_poll_seconds": 0.1,
        "worker_heartbeat_seconds": 0.5,
        "worker_stalled_after_seconds": 5,
        "delivery_timeout_seconds": 2,
        "upstream_retry_backoff_seconds": 0.01,
        **overrides,
    }
    return NotificationsSettings.model_validate(values)


@pytest.fixture(scope="session")
def notifications_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("notifications", NOTIFICATIONS_DIR).lifecycle()


@pytest.fixture(scope="session")
def settings(notifications_database: TestDatabase) -> NotificationsSettings:
    return notifications_settings(notifications_database.url)


@pytest.fixture(scope="session")
async def notifications_app(settings: NotificationsSettings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(autouse=True)
async def _isolated(notifications_app: FastAPI) -> AsyncIterator[None]:
    yield
    await truncate(notifications_app, NOTIFICATIONS_TABLES)


@pytest.fixture
def client_for(notifications_app: FastAPI) -> Callable[[Principal | None], httpx.AsyncClient]:
    def make(principal: Principal | None) -> httpx.AsyncClient:
        return asgi_client(notifications_app, principal)

    return make


@pytest.fixture
def city(client_for: Callable[[Principal | None], httpx.AsyncClient]) -> httpx.AsyncClient:
    return client_for(CITY)


async def scalar(app: FastAPI, sql: str, **params: Any) -> Any:
    async with app.state.engine.connect() as connection:
        return (await connection.execute(text(sql), params)).scalar()


# ---- a producer's outbox feed, as the contract serves it --------------------------------------------------------


def make_event(
    type: str = "award.proposed",
    *,
    subject: str = "award:1",
    district_code: str | None = "500103",
    source: str = "eligibility",
    **data: Any,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "district_code": district_code,
        "subject": subject,
        "data": {"links": {"self": f"/api/v1/{source}/{subject.replace(':', 's/')}"}, **data},
    }


class Feed:
    """`GET /outbox/events?after=&limit=` over a list, the cursor base64url of a position (as the producers')."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0

    def add(self, *events: dict[str, Any]) -> None:
        self.events.extend(events)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http" and scope["path"] == "/outbox/events"
        self.requests += 1
        query = dict(item.split("=", 1) for item in scope["query_string"].decode().split("&") if item)
        after = int(base64.urlsafe_b64decode(query["after"] + "==").decode()) if "after" in query else 0
        limit = int(query.get("limit", "500"))
        items = self.events[after : after + limit]
        position = after + len(items)
        body = json.dumps(
            {"items": items, "cursor": base64.urlsafe_b64encode(str(position).encode()).decode().rstrip("=")}
        ).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


# ---- a webhook receiver on 127.0.0.1 ----------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Per path, the statuses to answer next (then 200).
    plan: dict[str, list[int]] = field(default_factory=dict)
    answered: list[tuple[str, int]] = field(default_factory=list)
    # Per path, seconds to wait before answering (a slow endpoint).
    delay: dict[str, float] = field(default_factory=dict)
    arrived: list[str] = field(default_factory=list)

    def hook(self, name: str = "hook") -> str:
        return f"{self.url}/{name}"

    def at(self, name: str = "hook") -> list[Received]:
        return [item for item in self.received if item.path == f"/{name}"]

    async def wait_for(self, count: int, name: str = "hook", within: float = 20) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.at(name)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{name}: {len(self.at(name))} of {count} deliveries after {within} s")
            await asyncio.sleep(0.05)
        return self.at(name)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        state.arrived.append(request.path)
        waited = 0.0
        while waited < state.delay.get(request.path, 0):  # cut short when the test clears the delay
            await asyncio.sleep(0.1)
            waited += 0.1
        planned = state.plan.get(request.path) or []
        status = planned.pop(0) if planned else 200
        state.answered.append((request.path, status))
        if status < 300:
            state.received.append(Received(request.path, dict(request.headers), body))
        if status in (301, 302, 307):
            return web.Response(status=status, headers={"Location": "http://127.0.0.1:9/elsewhere"})
        return web.Response(status=status, text="ok")

    app = web.Application()
    app.router.add_route("*", "/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


# ---- the worker, in this process --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_worker(
    settings: NotificationsSettings, feeds: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[None]:
    transports = {name: httpx.ASGITransport(app=feed) for name, feed in (feeds or {}).items()}
    worker = asyncio.create_task(
        serve(settings, transports=transports, install_signal_handlers=False, relay_enabled=bool(feeds), **options)
    )
    await asyncio.sleep(0.3)
    if worker.done():
        worker.result()
    try:
        yield
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


@pytest.fixture
def feed() -> Feed:
    return Feed()


@pytest.fixture
async def worker(settings: NotificationsSettings, feed: Feed) -> AsyncIterator[Feed]:
    """The worker relaying `feed` as the eligibility service's outbox."""
    async with running_worker(settings, {"eligibility": feed}):
        yield feed
