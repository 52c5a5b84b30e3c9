"""The real stack as processes: every present service and the gateway as uvicorn processes on free ports, each
service on a database of its own, keys made in the gateway's database.

Used by the end-to-end tests, the fault tests (on a PostgreSQL cluster of their own) and the load test.
"""

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.run_local import present_services, uvicorn_command
from gateway import GATEWAY_DIR
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from gateway.settings import SERVICE_NAMES
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase, free_port, stop_process, wait_healthy

# name → (role, district)
KeySpec = Mapping[str, tuple[str, str | None]]
DEFAULT_KEYS: KeySpec = {
    "city": ("city", None),
    "auditor": ("auditor", None),
    "own": ("district", "500103"),
    "foreign": ("district", "500105"),
    "revoked": ("city", None),
}


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
    databases: dict[str, TestDatabase] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return self.processes["gateway"].url

    @property
    def gateway_db(self) -> TestDatabase:
        return self.databases["gateway"]

    def url(self, name: str) -> str:
        return self.processes[name].url

    def start(self, name: str) -> None:
        process = self.processes[name]
        with process.log.open("ab") as handle:
            process.popen = subprocess.Popen(
                uvicorn_command(process.app, "127.0.0.1", process.port),
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(process.popen, process.url, process.log)

    def stop(self, name: str) -> None:
        popen = self.processes[name].popen
        if popen is not None:
            stop_process(popen)

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


def make_keys(database_url: str, specs: KeySpec) -> dict[str, str]:
    async def work(session: AsyncSession) -> dict[str, str]:
        keys = {}
        for name, (role, district) in specs.items():
            keys[name], _ = await create_key(session, role, district, label=f"test {name}")
        return keys

    return run_in_session(database_url, work)


@contextmanager
def launch_stack(
    logs: Path,
    env: Mapping[str, str],
    *,
    keys: KeySpec = DEFAULT_KEYS,
    admin_url: str | None = None,
    services: Sequence[str] | None = None,
) -> Iterator[Stack]:
    """Databases made and migrated, keys made, every process started and healthy; all of it gone afterwards.

    `env` is laid over the caller's environment (gateway limits, timeouts…); the upstream and database URLs
    are set here. `admin_url` names the PostgreSQL server that holds the databases (the tests' usual one if None).
    """
    names = list(services if services is not None else present_services())
    ports = {name: free_port() for name in (*names, "gateway")}
    databases = {
        name: TestDatabase(name, PROJECT_ROOT / "services" / name, admin_url=admin_url)
        for name in names
        if (PROJECT_ROOT / "services" / name / "alembic.ini").is_file()
    }
    databases["gateway"] = TestDatabase("gateway", GATEWAY_DIR, admin_url=admin_url)
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    full_env["GATEWAY_DATABASE_URL"] = databases["gateway"].url
    for upstream in SERVICE_NAMES:
        url = f"http://127.0.0.1:{ports[upstream]}" if upstream in names else ""
        full_env[f"GATEWAY_{upstream.upper()}_URL"] = url
        for caller in names:
            if caller != upstream and upstream in names:
                full_env[f"{caller.upper()}_{upstream.upper()}_URL"] = url
    for name in names:
        if name in databases:
            full_env[f"{name.upper()}_DATABASE_URL"] = databases[name].url

    stack = Stack(env=full_env)
    try:
        for name, database in databases.items():
            database.create()
            stack.databases[name] = database
        stack.keys = make_keys(databases["gateway"].url, keys)
        for name in names:
            stack.processes[name] = Process(name, f"services.{name}.main:create_app", ports[name], logs / f"{name}.log")
        stack.processes["gateway"] = Process(
            "gateway", "gateway.main:create_app", ports["gateway"], logs / "gateway.log"
        )
        for name in stack.processes:
            stack.start(name)
        yield stack
    finally:
        for name in reversed(list(stack.processes)):
            stack.stop(name)
        for database in stack.databases.values():
            database.drop()
