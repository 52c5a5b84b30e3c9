"""The real stack for end-to-end tests: every present service and the gateway as uvicorn processes on free ports,
each service on a database of its own (PostgreSQL when reachable), rate limits shared through Redis."""

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.run_local import present_services, uvicorn_command
from gateway import GATEWAY_DIR
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase, free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
READ_TIMEOUT_SECONDS = 2.0
RATE_PER_SECOND = 20
RATE_BURST = 60


@dataclass
class Process:
    name: str
    app: str
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    gateway_db: TestDatabase | None = None

    @property
    def gateway(self) -> str:
        return self.processes["gateway"].url

    def url(self, name: str) -> str:
        return self.processes[name].url

    def start(self, name: str) -> None:
        process = self.processes[name]
        handle = process.log.open("ab")
        process.popen = subprocess.Popen(
            uvicorn_command(process.app, "127.0.0.1", process.port),
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        wait_healthy(process)

    def stop(self, name: str) -> None:
        popen = self.processes[name].popen
        if popen is not None and popen.poll() is None:
            popen.send_signal(signal.SIGCONT)
            popen.terminate()
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()

    def pause(self, name: str) -> None:
        popen = self.processes[name].popen
        assert popen is not None
        popen.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        popen = self.processes[name].popen
        assert popen is not None
        popen.send_signal(signal.SIGCONT)

    def log(self, name: str) -> str:
        return self.processes[name].log.read_text(encoding="utf-8", errors="replace")

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.gateway, headers=headers, timeout=30, trust_env=False)


def wait_healthy(process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.popen is not None
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited: {process.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{process.url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not healthy after {timeout} s")


def make_keys(database_url: str) -> dict[str, str]:
    async def work(session: AsyncSession) -> dict[str, str]:
        keys = {}
        for name, role, district in [
            ("city", "city", None),
            ("auditor", "auditor", None),
            ("own", "district", "500103"),
            ("foreign", "district", "500105"),
            ("revoked", "city", None),
        ]:
            keys[name], _ = await create_key(session, role, district, label=f"e2e {name}")
        return keys

    return run_in_session(database_url, work)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    services = present_services()
    databases = {
        name: TestDatabase(name, PROJECT_ROOT / "services" / name)
        for name in services
        if (PROJECT_ROOT / "services" / name / "alembic.ini").is_file()
    }
    gateway_db = TestDatabase("gateway", GATEWAY_DIR)
    ports = {name: free_port() for name in (*services, "gateway")}
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_DATABASE_URL": gateway_db.url,
        "GATEWAY_REDIS_URL": REDIS_URL,
        "GATEWAY_UPSTREAM_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
        "GATEWAY_PROBE_TIMEOUT": "1",
        "GATEWAY_KEY_CACHE_SECONDS": "0",
        "GATEWAY_RATE_LIMIT_PER_SECOND": str(RATE_PER_SECOND),
        "GATEWAY_RATE_LIMIT_BURST": str(RATE_BURST),
        # Every caller without a valid key shares the loopback address's bucket: the matrix sends many.
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "100",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "300",
        "GATEWAY_CORS_ORIGINS": "https://screens.cq.example",
    }
    for name in ("registry", "eligibility", "ranking"):
        env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{ports[name]}" if name in services else ""
        for caller in services:
            if caller != name and name in services:
                env[f"{caller.upper()}_{name.upper()}_URL"] = f"http://127.0.0.1:{ports[name]}"
    for name, database in databases.items():
        env[f"{name.upper()}_DATABASE_URL"] = database.url

    created: list[TestDatabase] = []
    result = Stack(env=env, gateway_db=gateway_db)
    try:
        for database in [*databases.values(), gateway_db]:
            database.create()
            created.append(database)
        result.keys = make_keys(gateway_db.url)
        for name in services:
            result.processes[name] = Process(
                name, f"services.{name}.main:create_app", ports[name], logs / f"{name}.log"
            )
        result.processes["gateway"] = Process(
            "gateway", "gateway.main:create_app", ports["gateway"], logs / "gateway.log"
        )
        for name in services:
            result.start(name)
        result.start("gateway")
        yield result
    finally:
        for name in reversed(list(result.processes)):
            result.stop(name)
        for database in created:
            database.drop()


@pytest.fixture(scope="session")
def city(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(stack.keys["city"]) as client:
        yield client
