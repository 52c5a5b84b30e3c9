"""Processes for the bench: the services and the bare app, each served by uvicorn with the flags of `make run`."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from deploy.run_local import uvicorn_command
from shared.auth import Principal
from shared.settings import PROJECT_ROOT
from tests.support import TEST_SECRET, PrincipalAuth, free_port, stop_process, wait_healthy

STARTUP_SECONDS = 60.0
FACTORIES = {
    "registry": "services.registry.main:create_app",
    "eligibility": "services.eligibility.main:create_app",
    "ranking": "services.ranking.main:create_app",
    "monitoring": "services.monitoring.main:create_app",
}


def start_uvicorn(
    factory: str, env: dict[str, str] | None = None, *, workers: int = 1, log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`factory` served on a free port by `deploy.run_local.uvicorn_command`; returns once /healthz answers.

    Its output goes to `log` (a new temporary file by default)."""
    port = free_port()
    log = log or Path(tempfile.mkdtemp(prefix="bench-")) / f"{factory.split(':')[0]}.log"
    command = uvicorn_command(factory, "127.0.0.1", port) + (["--workers", str(workers)] if workers > 1 else [])
    with log.open("ab") as handle:
        process = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url, log, timeout=STARTUP_SECONDS)
    except RuntimeError:
        stop_process(process)
        raise
    return process, url


def service_env(service: str, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of one service process: its database, test mode, quiet logs, the tests' internal secret."""
    prefix = service.upper()
    env = {
        f"{prefix}_DATABASE_URL": database_url,
        f"{prefix}_ENVIRONMENT": "test",
        f"{prefix}_LOG_LEVEL": "WARNING",
        "INTERNAL_SECRET": TEST_SECRET,
    }
    env.update({f"{prefix}_{name.upper()}": value for name, value in settings.items()})
    return env


@asynccontextmanager
async def served(factory: str, env: dict[str, str] | None = None, *, workers: int = 1) -> AsyncIterator[str]:
    """The base URL of `factory` served by uvicorn for the duration of the block.

    The process's output is kept in a temporary file only if the block fails (its path is printed)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    log = folder / f"{factory.split(':')[0]}.log"
    process, url = await asyncio.to_thread(start_uvicorn, factory, env, workers=workers, log=log)
    try:
        yield url
    except BaseException:
        print(f"bench: the output of {factory} is in {log}", file=sys.stderr, flush=True)
        raise
    finally:
        await asyncio.to_thread(stop_process, process)
    shutil.rmtree(folder, ignore_errors=True)


@asynccontextmanager
async def service(name: str, database_url: str, *, workers: int = 1, **settings: str) -> AsyncIterator[str]:
    """The base URL of the service `name` (registry, eligibility, ranking, monitoring) as a uvicorn process."""
    async with served(FACTORIES[name], service_env(name, database_url, **settings), workers=workers) as url:
        yield url


def signed_client(base_url: str, principal: Principal | None, *, timeout: float = 300) -> httpx.AsyncClient:
    """An HTTP client signing each request for `principal`, as the gateway would."""
    return httpx.AsyncClient(base_url=base_url, auth=PrincipalAuth(principal), timeout=timeout, trust_env=False)
