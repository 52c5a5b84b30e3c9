"""The compose wiring proven without Docker: the very commands and environment variables of docker-compose.yml,
run as processes against the local PostgreSQL, with the databases and the two roles per component (owner and
runtime) made by the same init script the postgres container runs: each service migrates as its owner and serves
as its runtime role; Redis runs with its compose command too (password required), when redis-server is installed.
Then a backup taken with the documented command is restored into an empty database and the registry reads back the
same data.
"""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.auth import Principal, Role, sign_principal
from shared.requestid import make_request_id
from shared.settings import PROJECT_ROOT
from shared.uscc import make_uscc
from tests.deploy.test_manifests import ENV_VALUES, compose_config
from tests.deploy.test_manifests import WORKERS as WORKER_READS
from tests.support import free_port, postgres_admin_url

pytestmark = pytest.mark.e2e

ORDER = ("registry", "eligibility", "ranking", "monitoring", "notifications", "gateway")
CONTAINER_PORTS = {
    "gateway": 8000,
    "registry": 8001,
    "eligibility": 8002,
    "ranking": 8003,
    "monitoring": 8004,
    "notifications": 8005,
}
# The services, then their workers (each after what it reads), then the gateway: as compose's depends_on orders them.
WORKERS = tuple(f"{name}-worker" for name in ("registry", "eligibility", "notifications"))
START_ORDER = (*ORDER[:-1], *WORKERS, "gateway")
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", PROJECT_ROOT / ".venv")) / "bin"


# Without redis-server, the gateway runs without Redis (each gateway limits on its own).
REDIS = shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


class Localised:
    """Rewrites container addresses into local ones: databases with a run prefix, services on free ports."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.ports = {name: free_port() for name in (*ORDER, "redis")}
        admin = make_url(postgres_admin_url())
        self.pg_host, self.pg_port = admin.host or "127.0.0.1", admin.port or 5432

    def __call__(self, text: str, own_port: int | None = None) -> str:
        text = re.sub(
            r"postgresql\+asyncpg://(\w+):([^@]+)@postgres:5432/(\w+)",
            lambda m: (
                f"postgresql+asyncpg://{self.prefix}{m[1]}:{m[2]}@{self.pg_host}:{self.pg_port}/{self.prefix}{m[3]}"
            ),
            text,
        )
        for name, port in CONTAINER_PORTS.items():
            text = text.replace(f"http://{name}:{port}", f"http://127.0.0.1:{self.ports[name]}")
            text = text.replace(f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{own_port or port}/")
        redis = self.ports["redis"]
        text = re.sub(r"redis://(:[^@]*@)?redis:6379/0", lambda m: f"redis://{m[1] or ''}127.0.0.1:{redis}/0", text)
        text = text.replace("exec redis-server ", f"exec redis-server --port {redis} --bind 127.0.0.1 ")
        text = text.replace("redis-cli ping", f"redis-cli -p {redis} ping")
        text = text.replace("--host 0.0.0.0", "--host 127.0.0.1")
        return re.sub(r"--port \d+", f"--port {own_port}", text) if own_port else text


def psql(sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
    admin = make_url(postgres_admin_url())
    return subprocess.run(
        [
            "psql",
            "-h",
            admin.host or "127.0.0.1",
            "-p",
            str(admin.port or 5432),
            "-U",
            admin.username or "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Stack:
    def __init__(self, compose: dict[str, Any], localise: Localised, logs: Path) -> None:
        self.compose = compose
        self.localise = localise
        self.logs = logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def environment(self, name: str) -> dict[str, str]:
        service = self.compose["services"][name]
        prefixes = ("REGISTRY_", "GATEWAY_", "NOTIFICATIONS_", "WORKER_")
        env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
        env.update({key: self.localise(str(value)) for key, value in service["environment"].items()})
        if "WORKER_HEALTH_FILE" in env:  # each worker's own (in its container's tmpfs there; side by side here)
            env["WORKER_HEALTH_FILE"] = str(self.logs / f"{name}-health")
        if not REDIS:
            env.pop("REDIS_URL", None)
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        return env

    def command(self, name: str, port: int | None = None) -> list[str]:
        command = self.compose["services"][name]["command"]
        if command[:2] == ["sh", "-c"]:
            # `docker-compose config` keeps compose's `$$` escape; the container's shell is given `$`.
            return ["sh", "-c", self.localise(command[2], own_port=port).replace("$$", "$")]
        parts = [self.localise(part, own_port=port) for part in command]
        # Exec form: the options' values are parts of their own.
        for option, value in (("--host", "127.0.0.1"), ("--port", str(port))):
            if option in parts and port is not None:
                parts[parts.index(option) + 1] = value
        return parts

    def run_once(self, name: str, *, env_overrides: dict[str, str] | None = None) -> str:
        """A one-shot service (`<name>-migrate`): run to its end, as compose does before the app that depends on it
        (condition service_completed_successfully)."""
        service = self.compose["services"][name]
        assert service["restart"] == "no"
        env = {**self.environment(name), **(env_overrides or {})}
        done = subprocess.run(
            self.command(name), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"
        return done.stderr

    def start(self, name: str, *, port: int | None, env_overrides: dict[str, str] | None = None) -> None:
        service = self.compose["services"][name]
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_completed_successfully":
                self.run_once(dependency, env_overrides=env_overrides)
        # The app is given only the variables compose gives it (an owner URL among the overrides is the migrate's).
        given = {key: value for key, value in (env_overrides or {}).items() if key in service["environment"]}
        env = {**self.environment(name), **given}
        log = (self.logs / f"{name}-{port}.log").open("wb")
        self.processes.append(
            subprocess.Popen(self.command(name, port), env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
        )
        # The container's own healthcheck, pointed at the local port, decides when it is up.
        kind, *test = service["healthcheck"]["test"]
        check = [self.localise(part, own_port=port) for part in test]
        if kind == "CMD-SHELL":
            check = ["sh", "-c", *check]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.processes[-1].poll() is not None:
                raise AssertionError(f"{name} exited: {(self.logs / f'{name}-{port}.log').read_text()[-3000:]}")
            if subprocess.run(check, env=env, capture_output=True, timeout=30, check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"{name} did not become healthy: {(self.logs / f'{name}-{port}.log').read_text()[-3000:]}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("compose-processes")
    env_file = workdir / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in ENV_VALUES.items()))
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    compose = yaml.safe_load(result.stdout)
    localise = Localised(prefix=f"ci{uuid.uuid4().hex[:6]}_")
    admin = make_url(postgres_admin_url())
    init = subprocess.run(
        ["sh", str(PROJECT_ROOT / "deploy/postgres/init-databases.sh")],
        env={
            **os.environ,
            **ENV_VALUES,
            "DB_PREFIX": localise.prefix,
            "PGHOST": admin.host or "127.0.0.1",
            "PGPORT": str(admin.port or 5432),
            "POSTGRES_USER": admin.username or "postgres",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    running = Stack(compose, localise, workdir)
    try:
        if REDIS:
            running.start("redis", port=localise.ports["redis"])
        for name in START_ORDER:
            running.start(name, port=localise.ports.get(name))
        yield running
    finally:
        running.stop()
        for name in (*ORDER, "r_registry"):
            psql(f'DROP DATABASE IF EXISTS "{localise.prefix}{name}" WITH (FORCE)')
        for name in (*ORDER, "r_registry"):
            psql(f'DROP ROLE IF EXISTS "{localise.prefix}{name}"')
            psql(f'DROP ROLE IF EXISTS "{localise.prefix}{name}_owner"')


def signed(secret: str, method: str, url: str, body: bytes = b"") -> dict[str, str]:
    """Signed as the gateway signs a request to the registry (every direct call here goes to one)."""
    target = httpx.URL(url).raw_path.decode()
    return sign_principal(
        secret, method, target, Principal(Role.CITY), audience="registry", body=body, request_id=make_request_id()
    )


def test_the_stack_serves_through_the_gateway(stack):
    gateway = f"http://127.0.0.1:{stack.localise.ports['gateway']}"
    ready = httpx.get(f"{gateway}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    # The keys CLI writes as the owner role: it runs where the owner URL is, the one-shot gateway-migrate
    # (`docker compose run --rm gateway-migrate python -m gateway.keys create …`), never in the gateway's container.
    created = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "gateway.keys", "create", "--role", "city", "--json"],
        env=stack.environment("gateway-migrate"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "uscc": "91500000MA5U0000AU",
        "name": "重庆部署验证有限公司",
        "district_code": "500103",
        "sector": "software_it",
        "established_on": "2020-01-01",
    }
    response = httpx.post(f"{gateway}/api/v1/registry/enterprises", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    read = httpx.get(f"{gateway}/api/v1/registry/enterprises/{body['uscc']}", headers=headers, timeout=10)
    assert read.json()["name"] == body["name"]
    assert httpx.get(f"{gateway}/api/v1/registry/enterprises", timeout=10).status_code == 401
    # Every service is behind the gateway: its readiness waits for each, and the newest answers through it.
    assert set(ready.json()["checks"]) >= {"registry", "eligibility", "ranking", "monitoring", "notifications"}
    targets = httpx.get(f"{gateway}/api/v1/monitoring/targets", headers=headers, timeout=10)
    assert targets.status_code == 200, targets.text
    subscriptions = httpx.get(f"{gateway}/api/v1/notifications/subscriptions", headers=headers, timeout=10)
    assert subscriptions.status_code == 200, subscriptions.text


def test_the_workers_run_their_compose_commands_and_report_healthy(stack):
    # Started as compose starts them (after their migrate step and what they read) and healthy by their own
    # healthcheck (deploy/worker_health.py on the file each touches after every heartbeat); each still runs.
    assert [process.poll() for process in stack.processes] == [None] * len(stack.processes)
    assert len(stack.processes) == len(START_ORDER) + (1 if REDIS else 0)
    for worker in WORKERS:
        assert (stack.logs / f"{worker}-health").is_file(), worker
    assert set(WORKERS) == {f"{name}-worker" for name in WORKER_READS}


def test_each_role_reaches_only_its_own_database(stack):
    prefix = stack.localise.prefix
    admin = make_url(postgres_admin_url())
    attempt = subprocess.run(
        [
            "psql",
            "-h",
            admin.host or "127.0.0.1",
            "-p",
            str(admin.port or 5432),
            "-U",
            f"{prefix}registry",
            "-d",
            f"{prefix}gateway",
            "-Atc",
            "SELECT 1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert attempt.returncode != 0 and "permission denied" in attempt.stderr
    for role in (f"{prefix}registry", f"{prefix}registry_owner"):
        flags = psql(f"SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '{role}'")
        assert flags.stdout.strip() == "f|f|f"


def test_the_services_serve_as_their_runtime_roles_which_own_nothing(stack):
    prefix = stack.localise.prefix
    # The owner's credential is the one-shot migrate service's only: no app process was given it.
    for name in ORDER:
        environment = stack.compose["services"][name]["environment"]
        assert not [key for key in environment if "_MIGRATION_" in key], name
        assert f"{name.upper()}_MIGRATION_DATABASE_URL" in stack.compose["services"][f"{name}-migrate"]["environment"]
    # Every service is up: whoever is connected to its database now is the service itself (its migrate step ended).
    for name in ORDER:
        users = psql(f"SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = '{prefix}{name}'")
        assert users.stdout.split() == [f"{prefix}{name}"], name
        owned = psql(
            f"SELECT count(*) FROM pg_class WHERE relowner = '{prefix}{name}'::regrole", database=f"{prefix}{name}"
        )
        assert owned.stdout.strip() == "0", name
    tamper = subprocess.run(
        ["psql", "-h", stack.localise.pg_host, "-p", str(stack.localise.pg_port), "-U", f"{prefix}registry",
         "-d", f"{prefix}registry", "-v", "ON_ERROR_STOP=1", "-Atc",
         "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert tamper.returncode != 0 and "must be owner" in tamper.stderr


@pytest.mark.skipif(not REDIS, reason="redis-server is not installed: the gateway ran without Redis")
def test_redis_refuses_a_client_without_the_password_and_the_gateway_uses_it(stack):
    port = str(stack.localise.ports["redis"])
    anonymous = subprocess.run(
        ["redis-cli", "-p", port, "ping"], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=30
    )
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    gateway = f"http://127.0.0.1:{stack.localise.ports['gateway']}"
    for _ in range(3):
        httpx.get(f"{gateway}/api/v1/registry/enterprises", timeout=10)
    keys = subprocess.run(
        ["redis-cli", "-p", port, "--scan"], env=stack.environment("redis"), capture_output=True, text=True, timeout=30
    )
    assert keys.returncode == 0 and keys.stdout.split(), keys.stderr  # the gateway's shared limits live there


def test_a_backup_restores_into_an_empty_server_and_reads_back_the_same(stack, tmp_path):
    """docs/operations.md: pg_dump --format=custom per database; pg_restore --no-owner --role=<owner role>, then the
    migrate step, which grants the runtime role its privileges (the compose command runs it before serving)."""
    prefix = stack.localise.prefix
    secret = ENV_VALUES["INTERNAL_SECRET"]
    registry = f"http://127.0.0.1:{stack.localise.ports['registry']}"
    rows = [
        {
            "uscc": f"91500103{n:09d}",
            "name": f"备份验证{n}",
            "district_code": "500103",
            "sector": "legal_ip",
            "established_on": "2021-06-01",
            "year": 2024,
            "revenue_yuan": f"{n}000000.25",
            "employees": n,
            "above_scale": True,
        }
        for n in range(1, 6)
    ]
    for row in rows:
        row["uscc"] = make_uscc(row["uscc"][:17])
    url = f"{registry}/enterprises/import"
    body = json.dumps(rows).encode()
    headers = {**signed(secret, "POST", url, body), "content-type": "application/json"}
    imported = httpx.post(url, content=body, headers=headers, timeout=30)
    assert imported.status_code == 200 and imported.json()["created"] == 5

    admin = make_url(postgres_admin_url())
    connection = ["-h", admin.host or "127.0.0.1", "-p", str(admin.port or 5432), "-U", admin.username or "postgres"]
    dump = tmp_path / "registry.dump"
    assert shutil.which("pg_dump") and shutil.which("pg_restore")
    backup = subprocess.run(
        ["pg_dump", *connection, "--format=custom", f"--file={dump}", f"{prefix}registry"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert backup.returncode == 0, backup.stderr
    # The empty server is prepared as a new deployment would be: by the init script, for the registry only.
    fresh = f"{prefix}r_"
    init = subprocess.run(
        ["sh", str(PROJECT_ROOT / "deploy/postgres/init-databases.sh")],
        env={
            **os.environ,
            **ENV_VALUES,
            "COMPONENTS": "registry",
            "DB_PREFIX": fresh,
            "PGHOST": admin.host or "127.0.0.1",
            "PGPORT": str(admin.port or 5432),
            "POSTGRES_USER": admin.username or "postgres",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    restore = subprocess.run(
        [
            "pg_restore",
            *connection,
            "--no-owner",
            f"--role={fresh}registry_owner",
            f"--dbname={fresh}registry",
            str(dump),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert restore.returncode == 0, restore.stderr

    port = free_port()
    server = f"{admin.host or '127.0.0.1'}:{admin.port or 5432}"
    restored_url = f"postgresql+asyncpg://{fresh}registry:x@{server}/{fresh}registry"
    owner_url = f"postgresql+asyncpg://{fresh}registry_owner:x@{server}/{fresh}registry"
    # registry-migrate then registry, as compose runs them: the migrate step grants the runtime role.
    stack.start(
        "registry",
        port=port,
        env_overrides={"REGISTRY_DATABASE_URL": restored_url, "REGISTRY_MIGRATION_DATABASE_URL": owner_url},
    )

    def everything(base: str) -> list[dict[str, Any]]:
        target = f"{base}/enterprises?limit=500"
        return httpx.get(target, headers=signed(secret, "GET", target), timeout=30).json()["items"]

    original, restored = everything(registry), everything(f"http://127.0.0.1:{port}")
    assert restored == original
    assert {row["uscc"] for row in rows} <= {item["uscc"] for item in restored}  # the five imported just now

    def audit(base: str) -> list[dict[str, Any]]:
        target = f"{base}/audit?limit=500"
        return httpx.get(target, headers=signed(secret, "GET", target), timeout=30).json()["items"]

    original_audit = audit(registry)
    assert audit(f"http://127.0.0.1:{port}") == original_audit
    assert {row["uscc"] for row in rows} <= {entry["entity_id"] for entry in original_audit}
