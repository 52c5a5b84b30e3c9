"""The operator's compose file, checked by docker-compose itself (the Kubernetes manifests: test_kubernetes.py)."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.settings import PROJECT_ROOT

APP_SERVICES = ("registry", "eligibility", "ranking", "monitoring", "notifications", "gateway")
# Which services each one reads (it waits for them, and is told where they are).
READS = {
    "eligibility": ("registry",),
    "ranking": ("registry", "eligibility"),
    "monitoring": ("registry", "eligibility"),
}
PORTS = {
    "gateway": 8000,
    "registry": 8001,
    "eligibility": 8002,
    "ranking": 8003,
    "monitoring": 8004,
    "notifications": 8005,
}
# The services with a worker process (`python -m services.<name>.worker`), and which services each worker reads:
# the eligibility worker screens the registry; the notifications worker pulls the producers' outbox feeds.
WORKERS = {
    "registry": (),
    "eligibility": ("registry",),
    "notifications": ("registry", "eligibility", "ranking"),
}
ENV_VALUES = {
    "POSTGRES_PASSWORD": "pg-secret",
    "REGISTRY_DB_PASSWORD": "r-secret",
    "REGISTRY_DB_OWNER_PASSWORD": "ro-secret",
    "ELIGIBILITY_DB_PASSWORD": "e-secret",
    "ELIGIBILITY_DB_OWNER_PASSWORD": "eo-secret",
    "RANKING_DB_PASSWORD": "k-secret",
    "RANKING_DB_OWNER_PASSWORD": "ko-secret",
    "MONITORING_DB_PASSWORD": "m-secret",
    "MONITORING_DB_OWNER_PASSWORD": "mo-secret",
    "NOTIFICATIONS_DB_PASSWORD": "n-secret",
    "NOTIFICATIONS_DB_OWNER_PASSWORD": "no-secret",
    "GATEWAY_DB_PASSWORD": "g-secret",
    "GATEWAY_DB_OWNER_PASSWORD": "go-secret",
    "REDIS_PASSWORD": "redis-secret",
    "INTERNAL_SECRET": "8f2d6c1e9b7a43f0a5e2c8d1b6f4a9e3",
    "METRICS_TOKEN": "metrics-token-for-prometheus-5c1e9a",
}
IMAGE = "cq-producer-services:1.13.0"


def compose_config(env_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is required (Debian package docker-compose; .ci/run installs it)"
    return subprocess.run(
        [binary, "--project-directory", str(PROJECT_ROOT), "--env-file", str(env_file), *extra, "config"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text("".join(f"{key}={value}\n" for key, value in ENV_VALUES.items()))
    return path


@pytest.fixture(scope="module")
def compose(env_file) -> dict:
    result = compose_config(env_file)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_env_example_names_every_variable_the_compose_file_requires():
    example = (PROJECT_ROOT / ".env.example").read_text()
    for name in ENV_VALUES:
        assert f"\n{name}=" in f"\n{example}"


@pytest.mark.parametrize(
    "missing", ["INTERNAL_SECRET", "REGISTRY_DB_OWNER_PASSWORD", "REDIS_PASSWORD", "METRICS_TOKEN"]
)
def test_a_missing_secret_is_refused(tmp_path, missing):
    partial = tmp_path / ".env"
    partial.write_text("".join(f"{k}={v}\n" for k, v in ENV_VALUES.items() if k != missing))
    result = compose_config(partial)
    assert result.returncode != 0 and missing in result.stderr


def test_only_the_gateway_publishes_a_port(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"gateway"}
    assert compose["services"]["gateway"]["ports"][0]["target"] == 8000


def test_one_image_non_root_for_all_app_services(compose):
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2 and "AS build" in dockerfile and "USER app" in dockerfile
    assert "requirements.lock" in dockerfile
    images = {compose["services"][name]["image"] for name in APP_SERVICES}
    images |= {compose["services"][f"{name}-migrate"]["image"] for name in APP_SERVICES}
    images |= {compose["services"][f"{name}-worker"]["image"] for name in WORKERS}
    assert images == {IMAGE}


def test_every_image_is_pinned_to_a_version(compose):
    for name, service in compose["services"].items():
        repository, _, tag = service["image"].rpartition(":")
        assert repository and tag and tag != "latest" and "/" not in tag, (name, service["image"])
        assert any(character.isdigit() for character in tag), (name, service["image"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_is_migrated_by_a_one_shot_service_then_serves_with_its_own_database(compose, name):
    migrate, service = compose["services"][f"{name}-migrate"], compose["services"][name]
    assert migrate["command"] == ["python", "-m", "deploy.migrate", name]
    assert migrate["restart"] == "no" and "healthcheck" not in migrate
    assert service["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
    assert "deploy.migrate" not in " ".join(service["command"])
    assert service["command"][:4] == ["python", "-m", "uvicorn", "--factory"]
    # The app as its runtime role; the migrations as the owner role, straight to PostgreSQL, in their own container.
    url = f"postgresql+asyncpg://{name}:{ENV_VALUES[name.upper() + '_DB_PASSWORD']}@postgres:5432/{name}"
    assert service["environment"][f"{name.upper()}_DATABASE_URL"] == url
    assert migrate["environment"][f"{name.upper()}_DATABASE_URL"] == url  # names the role it grants
    owner_password = ENV_VALUES[name.upper() + "_DB_OWNER_PASSWORD"]
    owner_url = f"postgresql+asyncpg://{name}_owner:{owner_password}@postgres:5432/{name}"
    assert migrate["environment"][f"{name.upper()}_MIGRATION_DATABASE_URL"] == owner_url
    # Bounded waits (shared/migrations.py): a stuck migration fails this start instead of hanging it.
    assert str(migrate["environment"]["MIGRATION_LOCK_WAIT_SECONDS"]) == "600"
    assert str(migrate["environment"]["MIGRATION_DDL_LOCK_TIMEOUT_SECONDS"]) == "10"
    for container in (service, migrate):
        assert container["environment"]["INTERNAL_SECRET"] == ENV_VALUES["INTERNAL_SECRET"]
        assert container["environment"][f"{name.upper()}_ENVIRONMENT"] == "production"
        assert container["deploy"]["resources"]["limits"]["memory"]
        assert container["read_only"] is True
    assert service["environment"]["INTERNAL_PREVIOUS_SECRET"] == ""
    assert service["environment"]["METRICS_TOKEN"] == ENV_VALUES["METRICS_TOKEN"]
    assert service["restart"] == "unless-stopped"
    assert service["healthcheck"]["test"]
    # docker stop waits for uvicorn's own graceful shutdown (30 s) before it kills.
    assert service["command"][-2:] == ["--timeout-graceful-shutdown", "30"]
    assert service["stop_grace_period"] in ("40s", 40, "40")


def test_no_long_running_container_holds_an_owner_credential(compose, env_file):
    everything = compose_config(env_file, "--profile", "monitoring", "--profile", "pgbouncer")
    assert everything.returncode == 0, everything.stderr
    services = yaml.safe_load(everything.stdout)["services"]
    owner_passwords = {ENV_VALUES[f"{name.upper()}_DB_OWNER_PASSWORD"] for name in APP_SERVICES}
    for name, service in services.items():
        if name.endswith("-migrate"):
            assert service["restart"] == "no", name
            continue
        environment = service.get("environment") or {}
        assert not [key for key in environment if "_MIGRATION_" in key], name
        if name != "postgres":  # which sets the owners' passwords
            assert not [v for v in environment.values() if any(p in str(v) for p in owner_passwords)], name
    assert {name for name in services if name.endswith("-migrate")} == {f"{n}-migrate" for n in APP_SERVICES}


def test_every_long_running_container_has_a_healthcheck_and_the_gateway_needs_no_service_healthy(compose):
    for name, service in compose["services"].items():
        if name.endswith("-migrate"):
            assert set(service["depends_on"]) == {"postgres"}
            continue
        assert "healthcheck" in service or name == "prometheus", name
        for dependency, condition in service.get("depends_on", {}).items():
            if dependency.endswith("-migrate"):
                assert condition["condition"] == "service_completed_successfully"
            elif name == "gateway" and dependency in APP_SERVICES:
                # The gateway is ready without them (each upstream is reported in its /readyz): one service that
                # cannot start must not keep the whole API down.
                assert condition["condition"] == "service_started"
            else:
                assert condition["condition"] == "service_healthy", (name, dependency)
    gateway_needs = set(compose["services"]["gateway"]["depends_on"])
    assert gateway_needs == {
        "gateway-migrate",
        "postgres",
        "redis",
        *(name for name in APP_SERVICES if name != "gateway"),
    }
    redis_url = f"redis://:{ENV_VALUES['REDIS_PASSWORD']}@redis:6379/0"
    assert compose["services"]["gateway"]["environment"]["REDIS_URL"] == redis_url


def test_redis_requires_its_password_and_its_healthcheck_gives_it(compose):
    redis = compose["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "$REDIS_PASSWORD" in " ".join(redis["command"])
    assert ENV_VALUES["REDIS_PASSWORD"] not in " ".join(redis["command"])  # not on the command line
    assert redis["environment"]["REDIS_PASSWORD"] == ENV_VALUES["REDIS_PASSWORD"]
    # redis-cli reads REDISCLI_AUTH, and a refusal (NOAUTH) is not a PONG.
    assert redis["environment"]["REDISCLI_AUTH"] == ENV_VALUES["REDIS_PASSWORD"]
    assert "grep -qx PONG" in " ".join(redis["healthcheck"]["test"])
    assert redis["environment"]["REDIS_PASSWORD"] in compose["services"]["gateway"]["environment"]["REDIS_URL"]


def test_each_service_waits_for_what_it_reads_and_is_told_where_it_is(compose):
    gateway = compose["services"]["gateway"]["environment"]
    for name in APP_SERVICES:
        service = compose["services"][name]
        command = " ".join(service["command"])
        assert f"--port {PORTS[name]} " in command and f":{PORTS[name]}/" in " ".join(service["healthcheck"]["test"])
        if name == "gateway":
            continue
        assert f"services.{name}.main:create_app" in command
        assert gateway[f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{PORTS[name]}"
        reads = READS.get(name, ())
        assert set(service["depends_on"]) == {"postgres", f"{name}-migrate", *reads}, name
        databases = {f"{name.upper()}_DATABASE_URL"}
        told = {key for key in service["environment"] if key.endswith("_URL") and key not in databases}
        assert told == {f"{name.upper()}_{upstream.upper()}_URL" for upstream in reads}, name
        for upstream in reads:
            assert (
                service["environment"][f"{name.upper()}_{upstream.upper()}_URL"]
                == f"http://{upstream}:{PORTS[upstream]}"
            )


def test_the_services_and_their_workers_are_exactly_the_expected_containers(compose):
    expected = {"postgres", "redis", *APP_SERVICES, *(f"{name}-migrate" for name in APP_SERVICES)}
    expected |= {f"{name}-worker" for name in WORKERS}
    always = {name for name, service in compose["services"].items() if not service.get("profiles")}
    assert always == expected  # the optional profiles' prometheus and pgbouncer aside
    assert len(always) == 2 + 2 * len(APP_SERVICES) + len(WORKERS) == 17


@pytest.mark.parametrize("name", WORKERS)
def test_each_worker_runs_its_services_queue_on_its_database_as_the_runtime_role(compose, name):
    worker, service = compose["services"][f"{name}-worker"], compose["services"][name]
    upper = name.upper()
    assert worker["command"] == ["python", "-m", f"services.{name}.worker"]
    assert worker["image"] == service["image"] and worker["read_only"] is True
    assert worker["restart"] == "unless-stopped"
    # Migrated first (the same one-shot service as the app), on the same database as the same runtime role; always
    # straight to PostgreSQL (the worker LISTENs), whatever DATABASE_HOST says.
    assert worker["depends_on"][f"{name}-migrate"] == {"condition": "service_completed_successfully"}
    url = f"postgresql+asyncpg://{name}:{ENV_VALUES[upper + '_DB_PASSWORD']}@postgres:5432/{name}"
    assert worker["environment"][f"{upper}_DATABASE_URL"] == url == service["environment"][f"{upper}_DATABASE_URL"]
    assert not [key for key in worker["environment"] if "_MIGRATION_" in key]
    assert worker["environment"][f"{upper}_ENVIRONMENT"] == "production"
    assert worker["environment"]["INTERNAL_SECRET"] == ENV_VALUES["INTERNAL_SECRET"]
    assert worker["environment"]["INTERNAL_PREVIOUS_SECRET"] == ""
    assert "METRICS_TOKEN" not in worker["environment"]  # it serves nothing
    assert not worker.get("ports") and not worker.get("expose")
    # It waits for what it reads and is told where it is; nothing else.
    reads = WORKERS[name]
    assert set(worker["depends_on"]) == {"postgres", f"{name}-migrate", *reads}
    told = {key for key in worker["environment"] if key.endswith("_URL") and key != f"{upper}_DATABASE_URL"}
    assert told == {f"{upper}_{upstream.upper()}_URL" for upstream in reads}
    for upstream in reads:
        assert worker["environment"][f"{upper}_{upstream.upper()}_URL"] == f"http://{upstream}:{PORTS[upstream]}"
    # Health: the file it touches after each heartbeat, read by deploy/worker_health.py (in the tmpfs).
    health_file = worker["environment"]["WORKER_HEALTH_FILE"]
    assert any(health_file.startswith(f"{mount}/") for mount in worker["tmpfs"])
    assert worker["healthcheck"]["test"][:4] == ["CMD", "python", "-m", "deploy.worker_health"]
    # SIGTERM: no new job, the running ones finish within 30 s; docker stop waits 40 s.
    assert worker["stop_grace_period"] in ("40s", 40, "40")
    assert worker["deploy"]["resources"]["limits"]["memory"]


def test_the_notifications_guard_and_relay_settings(compose):
    api, worker = compose["services"]["notifications"], compose["services"]["notifications-worker"]
    # The SSRF allow-list is the same for the API (on create and PATCH) and the worker (at every delivery).
    assert (
        api["environment"]["NOTIFICATIONS_ALLOWED_NETWORKS"]
        == worker["environment"]["NOTIFICATIONS_ALLOWED_NETWORKS"]
        == ""
    )
    assert set(READS.get("notifications", ())) == set()  # the API reads no other service: the worker does


def test_the_image_carries_the_cjk_font_the_monitoring_pictures_need():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "fonts-wqy-microhei" in dockerfile and "MPLCONFIGDIR=/tmp/" in dockerfile
    assert dockerfile.startswith("# syntax=")  # a parser directive only counts on the first line
    assert "fonts-wqy-microhei" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_postgres_creates_one_database_and_role_per_service(compose):
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    # docker-compose 1.x prints volumes as "source:target:mode", the compose v2 CLI as mappings.
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in postgres["volumes"]]
    assert "/var/lib/postgresql/data" in targets
    assert "/docker-entrypoint-initdb.d/10-init-databases.sh" in targets
    for name in APP_SERVICES:
        for variable in (f"{name.upper()}_DB_PASSWORD", f"{name.upper()}_DB_OWNER_PASSWORD"):
            assert postgres["environment"][variable] == ENV_VALUES[variable]
    script = (PROJECT_ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
    assert f"${{COMPONENTS:-{' '.join(APP_SERVICES)}}}" in script


def test_prometheus_is_an_optional_profile(compose, env_file):
    assert "prometheus" not in compose["services"] or compose["services"]["prometheus"].get("profiles") == [
        "monitoring"
    ]
    result = compose_config(env_file, "--profile", "monitoring")
    assert result.returncode == 0, result.stderr
    prometheus = yaml.safe_load(result.stdout)["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    # The token reaches the file prometheus.yml names, from the environment.
    assert prometheus["environment"]["METRICS_TOKEN"] == ENV_VALUES["METRICS_TOKEN"]
    configuration = (PROJECT_ROOT / "deploy/prometheus/prometheus.yml").read_text()
    for path in re.findall(r"credentials_file: (\S+)", configuration):
        assert f"> {path}" in " ".join(prometheus["entrypoint"])
        assert any(path.startswith(f"{mount}/") for mount in prometheus["tmpfs"])


def test_pgbouncer_is_an_optional_profile_the_runtime_connections_go_through(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(f"{key}={value}\n" for key, value in ENV_VALUES.items())
        + "DATABASE_HOST=pgbouncer\nDATABASE_PORT=6432\n"
    )
    result = compose_config(env_file, "--profile", "pgbouncer")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["pgbouncer"]["profiles"] == ["pgbouncer"]
    for name in WORKERS:  # LISTEN needs a session of its own: never a transaction pool
        assert f"@postgres:5432/{name}" in services[f"{name}-worker"]["environment"][f"{name.upper()}_DATABASE_URL"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert f"@pgbouncer:6432/{name}" in environment[f"{name.upper()}_DATABASE_URL"]
        # Migrations hold a session lock and run DDL: never through a transaction pool.
        migrate = services[f"{name}-migrate"]["environment"]
        assert f"@postgres:5432/{name}" in migrate[f"{name.upper()}_MIGRATION_DATABASE_URL"]
        # Its auth file names each runtime role with its password ($$: compose's escape of the shell's $).
        assert f'{name} "$${name.upper()}_DB_PASSWORD"' in " ".join(services["pgbouncer"]["entrypoint"])
    ini = configparser.ConfigParser()
    ini.read(PROJECT_ROOT / "deploy/postgres/pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert int(ini["pgbouncer"]["max_prepared_statements"]) > 0  # asyncpg's prepared statements
    assert ini["pgbouncer"]["auth_file"] in " ".join(services["pgbouncer"]["entrypoint"])
    assert set(ini["databases"]) == set(APP_SERVICES)
