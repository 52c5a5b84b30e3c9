"""The real stack as processes: every present service and the gateway as uvicorn processes on free ports, each
service on a database of its own, keys made in the gateway's database, and each present worker
(`python -m services.<name>.worker`, deploy/run_local.py) beside its service, on the service's environment.

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

from deploy.local_postgres import free_port
from deploy.run_local import present_services, present_workers, uvicorn_command, worker_command
from gateway import GATEWAY_DIR
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from gateway.settings import SERVICE_NAMES
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase, stop_process, wait_healthy

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
    """A uvicorn process (`app` on `port`), or a worker (`worker` names its service; no port, no HTTP)."""

    name: str
    app: str
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    worker: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.worker is not None:
            return worker_command(self.worker)
        return uvicorn_command(self.app, "127.0.0.1", self.port)


# How long a worker must stay up after its start to count as started (it serves no /healthz to wait for).
WORKER_SETTLE_SECONDS = 0.5


@dataclass
class Stack:
    """`processes`: the uvicorn processes (every service and the gateway); `workers`: the worker processes, by
    `<service>-worker`. Every method taking a name takes either."""

    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    workers: dict[str, Process] = field(default_factory=dict)
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

    def process(self, name: str) -> Process:
        return self.processes[name] if name in self.processes else self.workers[name]

    def start(self, name: str) -> None:
        process = self.process(name)
        with process.log.open("ab") as handle:
            process.popen = subprocess.Popen(
                process.command(), env=self.env, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT
            )
        if process.worker is None:
            wait_healthy(process.popen, process.url, process.log)
            return
        try:
            code = process.popen.wait(timeout=WORKER_SETTLE_SECONDS)
        except subprocess.TimeoutExpired:
            return
        raise RuntimeError(f"{name}: the worker exited with status {code}: {self.log(name)[-3000:]}")

    def stop(self, name: str) -> None:
        popen = self.process(name).popen
        if popen is not None:
            stop_process(popen)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash: no graceful stop (a worker's jobs are left to the queue's recovery)."""
        popen = self.process(name).popen
        assert popen is not None
        popen.kill()
        popen.wait()

    def pause(self, name: str) -> None:
        popen = self.process(name).popen
        assert popen is not None
        popen.send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        popen = self.process(name).popen
        assert popen is not None
        popen.send_signal(signal.SIGCONT)

    def log(self, name: str) -> str:
        return self.process(name).log.read_text(encoding="utf-8", errors="replace")

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
    workers: Sequence[str] | None = None,
) -> Iterator[Stack]:
    """Databases made and migrated, keys made, every process started and healthy; all of it gone afterwards.

    `env` is laid over the caller's environment (gateway limits, timeouts…); the upstream and database URLs
    are set here. `admin_url` names the PostgreSQL server that holds the databases (the tests' usual one if None).
    `workers`: the services whose worker runs (default: every present one among `services`); each is started after
    every service is healthy, before the gateway, and stopped before the services.
    """
    names = list(services if services is not None else present_services())
    worker_names = [name for name in (workers if workers is not None else present_workers()) if name in names]
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
    started: list[str] = []
    try:
        for name, database in databases.items():
            database.create()
            stack.databases[name] = database
        stack.keys = make_keys(databases["gateway"].url, keys)
        for name in names:
            stack.processes[name] = Process(name, f"services.{name}.main:create_app", ports[name], logs / f"{name}.log")
        for name in worker_names:
            worker = f"{name}-worker"
            stack.workers[worker] = Process(worker, "", 0, logs / f"{worker}.log", worker=name)
        stack.processes["gateway"] = Process(
            "gateway", "gateway.main:create_app", ports["gateway"], logs / "gateway.log"
        )
        # The services, then the workers (once every service is healthy), then the gateway; stopped in reverse.
        order = [*names, *stack.workers, "gateway"]
        for name in order:
            started.append(name)
            stack.start(name)
        yield stack
    finally:
        for name in reversed(started):
            stack.stop(name)
        for database in stack.databases.values():
            database.drop()
