"""deploy/prometheus: the configuration and the alert rules pass promtool, the alerts fire as they say
(`promtool test rules`), and every series an alert or a dashboard panel names is one the code exports (read from a
live /metrics of the gateway and of a service)."""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from deploy.local_postgres import free_port
from gateway import GATEWAY_DIR
from services.eligibility.main import create_app as create_eligibility
from services.eligibility.settings import EligibilitySettings
from services.monitoring.main import create_app as create_monitoring
from services.monitoring.settings import MonitoringSettings
from services.notifications import SERVICE_DIR as NOTIFICATIONS_DIR
from services.notifications.main import create_app as create_notifications
from services.notifications.settings import NotificationsSettings
from services.ranking.main import create_app as create_ranking
from services.ranking.settings import RankingSettings
from services.registry import SERVICE_DIR as REGISTRY_DIR
from services.registry.main import create_app as create_registry
from services.registry.settings import RegistrySettings
from shared.admission import ADMITS_HEAVY_WORK
from shared.settings import PROJECT_ROOT
from tests.gateway.helpers import running_gateway, settings_for
from tests.support import TestDatabase, uvicorn_process

PROMETHEUS_DIR = PROJECT_ROOT / "deploy" / "prometheus"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
COMPONENTS = ("gateway", "registry", "eligibility", "ranking", "monitoring", "notifications")
# The worker Deployments: no HTTP, so no target of theirs is kept (deploy/k8s/<name>-worker.yaml).
WORKERS = ("registry-worker", "eligibility-worker", "notifications-worker")
# Series Prometheus makes itself for every target.
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    return found


def run_promtool(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, arguments)], capture_output=True, text=True, timeout=60, check=False)


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((PROMETHEUS_DIR / "dashboard.json").read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


# ---- PromQL: the metric names an expression reads ---------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"})


def metric_names(expression: str) -> set[str]:
    """The metric names in a PromQL expression: its identifiers that are not functions (followed by a parenthesis),
    operators, label names (in selectors and groupings) or durations."""
    text = _STRING.sub('""', expression)
    text = _SELECTOR.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        if match.group() in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(match.group())
    return names


def test_metric_names_are_read_from_promql() -> None:
    expression = (
        'sum by (job, le) (rate(service_request_duration_seconds_bucket{route!~".*/(import|batch)", le="+Inf"}[5m]))'
        " / on (job) group_left sum without (instance) (service_db_pool_size offset 1h) > bool 0.5e3 or up == 0"
    )
    assert metric_names(expression) == {"service_request_duration_seconds_bucket", "service_db_pool_size", "up"}


def exported_names(exposition: str) -> set[str]:
    """Every series name a Prometheus text exposition offers, with the suffixes its types add."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names |= {name, base, *(base + suffix for suffix in suffixes.get(kind, ()))}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


# ---- the latency alerts leave out exactly the heavy routes ---------------------------------------------------------


# Every dependency that admits heavy work is marked so (shared.admission.admits_heavy_work).
def takes_heavy_work_admission(dependant: Dependant) -> bool:
    return any(
        getattr(dependency.call, ADMITS_HEAVY_WORK, False) or takes_heavy_work_admission(dependency)
        for dependency in dependant.dependencies
    )


def service_routes() -> dict[tuple[str, str, str], bool]:
    """(service, method, route template) of every route of the five services: whether it takes heavy-work
    admission."""
    url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"  # the apps are only made, never started
    apps: dict[str, FastAPI] = {
        "registry": create_registry(RegistrySettings(database_url=url, environment="test")),
        "eligibility": create_eligibility(EligibilitySettings(database_url=url, environment="test")),
        "ranking": create_ranking(RankingSettings(database_url=url, environment="test")),
        "monitoring": create_monitoring(MonitoringSettings(database_url=url, environment="test")),
        "notifications": create_notifications(NotificationsSettings(database_url=url, environment="test")),
    }
    routes = {}
    for service, app in apps.items():
        for route in iter_route_contexts(app.routes):
            dependant = getattr(route, "dependant", None)
            if dependant is not None:
                for method in route.methods or ():
                    routes[(service, method, str(route.path))] = takes_heavy_work_admission(dependant)
    return routes


_LEFT_OUT = re.compile(r'route!~"(?P<route>[^"]*)"')
_TAKEN_AWAY = re.compile(r'unless rate\(\w+\{method="(?P<method>[A-Z]+)", route=~"(?P<route>[^"]*)"\}')


def leaves_out(expression: str, method: str, route: str) -> bool:
    """Whether a latency expression (a `route!~` selector, optionally `unless` one method of some routes) leaves a
    request of `method` on `route` out, with PromQL's fully anchored regular expressions."""
    (left_out,) = _LEFT_OUT.findall(expression)
    if re.fullmatch(left_out, route):
        return True
    return any(
        method == match["method"] and re.fullmatch(match["route"], route) for match in _TAKEN_AWAY.finditer(expression)
    )


def test_the_latency_alerts_and_panel_leave_out_exactly_the_routes_that_take_heavy_work_admission() -> None:
    routes = service_routes()
    heavy = {route for route, admitted in routes.items() if admitted}
    assert {service for service, _, _ in heavy} == {"registry", "eligibility", "ranking", "monitoring"}
    expressions = [str(rule["expr"]) for rule in alert_rules() if rule["alert"].endswith("LatencyP99")]
    expressions += [expression for expression in dashboard_expressions() if "route!~" in expression]
    assert len(expressions) == 4
    for expression in expressions:
        # As the service labels its requests, and as the gateway labels them (the service's template after
        # /api/v1/<service>).
        for labelled in (lambda service, path: path, lambda service, path: f"/api/v1/{service}{path}"):
            left_out = {(s, m, path) for s, m, path in routes if leaves_out(expression, m, labelled(s, path))}
            assert left_out == heavy, expression


# ---- live /metrics of the gateway and of a service ----------------------------------------------------------------


@pytest.fixture(scope="module")
def databases() -> Iterator[dict[str, TestDatabase]]:
    made = {
        "gateway": TestDatabase("gateway", GATEWAY_DIR),
        "registry": TestDatabase("registry", REGISTRY_DIR),
        "notifications": TestDatabase("notifications", NOTIFICATIONS_DIR),
    }
    for database in made.values():
        database.create()
    yield made
    for database in made.values():
        database.drop()


async def live_exposition(databases: dict[str, TestDatabase]) -> str:
    # An upstream on a closed port: the gateway's per-upstream series exist (probed, failing), as in production.
    closed = "http://127.0.0.1:9"
    async with running_gateway(settings_for(databases["gateway"].url, registry_url=closed)) as (_, gateway):
        gateway_text = (await gateway.get("/metrics")).text
    texts = [gateway_text]
    # A service's own series, and the notifications service's gauges of its deliveries and relay (issue 17).
    apps = [
        create_registry(RegistrySettings(database_url=databases["registry"].url, environment="test")),
        create_notifications(NotificationsSettings(database_url=databases["notifications"].url, environment="test")),
    ]
    for app in apps:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
                service = await client.get("/metrics")
                assert service.status_code == 200, service.text
                texts.append(service.text)
    return "\n".join(texts)


async def test_every_series_an_alert_or_a_panel_reads_is_exported(databases: dict[str, TestDatabase]) -> None:
    exported = exported_names(await live_exposition(databases)) | SYNTHETIC
    read = {f"alert {rule['alert']}": metric_names(str(rule["expr"])) for rule in alert_rules()} | {
        f"panel expression {expression}": metric_names(expression) for expression in dashboard_expressions()
    }
    assert all(read.values())  # every expression names a series: the parser found them
    missing = {where: sorted(names - exported) for where, names in read.items() if names - exported}
    assert missing == {}


# ---- promtool -----------------------------------------------------------------------------------------------------


def test_the_alert_rules_pass_promtool() -> None:
    checked = run_promtool("check", "rules", PROMETHEUS_DIR / "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_the_alerts_fire_as_they_say() -> None:
    tested = run_promtool("test", "rules", PROMETHEUS_DIR / "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_rule_is_tested_and_says_what_it_means() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text(encoding="utf-8"))
    fired = {check["alertname"] for case in tests["tests"] for check in case["alert_rule_test"] if check["exp_alerts"]}
    rules = alert_rules()
    assert fired == {rule["alert"] for rule in rules}
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert set(rule["annotations"]) == {"summary", "description"}


def test_the_configuration_passes_promtool_and_scrapes_every_component_with_the_token(tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert tuple(jobs) == COMPONENTS
    for name, job in jobs.items():
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
        (target,) = job["static_configs"][0]["targets"]
        assert target.startswith(f"{name}:")
    assert config["rule_files"] == ["alerts.yml"]
    # promtool opens the token file: the same configuration with the file where this test can make one.
    token = tmp_path / "metrics_token"
    token.write_text("a-token\n")
    for job in config["scrape_configs"]:
        job["authorization"]["credentials_file"] = str(token)
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run_promtool("check", "config", tmp_path / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses expressions only in rule files: each panel's, recorded under a name of its own.
    expressions = dashboard_expressions()
    rules = {
        "groups": [
            {"name": "panels", "rules": [{"record": f"panel:{n}", "expr": e} for n, e in enumerate(expressions)]}
        ]
    }
    (tmp_path / "panels.yml").write_text(yaml.safe_dump(rules))
    checked = run_promtool("check", "rules", tmp_path / "panels.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in checked.stdout


def test_the_dashboard_is_grafana_json_over_one_prometheus_datasource() -> None:
    dashboard = json.loads((PROMETHEUS_DIR / "dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] == "cq-producer-services" and dashboard["schemaVersion"] >= 36
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) == 18  # 15, and the job queues, deliveries and relay of issue 17
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])


METRICS_TOKEN = "the-token"


def prometheus_server() -> str:
    server = shutil.which("prometheus")
    if server is None:
        pytest.skip("the prometheus server is not installed (Debian package `prometheus`; .ci/run installs it)")
    return server


@contextmanager
def registry_read_with_a_token() -> Iterator[str]:
    """A registry process whose /metrics is read with METRICS_TOKEN: its address (host:port)."""
    database = TestDatabase("registry", REGISTRY_DIR)
    database.create()
    try:
        env = {"REGISTRY_DATABASE_URL": database.url, "REGISTRY_ENVIRONMENT": "test", "METRICS_TOKEN": METRICS_TOKEN}
        with uvicorn_process("services.registry.main:create_app", env) as (url, _):
            yield url.removeprefix("http://")
    finally:
        database.drop()


@contextmanager
def running_prometheus(directory: Path, config: dict[str, Any]) -> Iterator[str]:
    """The real server on `config` (scraping and evaluating every second, with the shipped rules beside it), in
    `directory`: its API's base URL."""
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", directory / "alerts.yml")
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [prometheus_server(), f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        process.terminate()
        process.wait(timeout=20)


def query(api: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{api}/query", params={"query": expression}, timeout=5, trust_env=False).json()
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def scraped(api: str, targets: int) -> list[dict[str, Any]]:
    """`up` once `targets` targets have been scraped (or what there is after a minute)."""
    up: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while len(up) < targets and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            up = query(api, "up")
        except httpx.HTTPError:
            continue
    return up


def test_prometheus_scrapes_a_service_with_the_token_from_its_file_and_loads_the_rules(tmp_path: Path) -> None:
    # The real server on the shipped files, only the targets and intervals changed: a registry process with a
    # METRICS_TOKEN is read with the token file (up 1), the same target with a wrong token is not (up 0).
    prometheus_server()
    token, wrong = tmp_path / "metrics_token", tmp_path / "wrong_token"
    token.write_text(f"{METRICS_TOKEN}\n")
    wrong.write_text("not-the-token\n")
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    (registry,) = [job for job in config["scrape_configs"] if job["job_name"] == "registry"]
    registry["authorization"]["credentials_file"] = str(token)
    impostor = {
        **registry,
        "job_name": "wrong-token",
        "authorization": {"type": "Bearer", "credentials_file": str(wrong)},
    }
    config["scrape_configs"] = [registry, impostor]
    with registry_read_with_a_token() as address:
        registry["static_configs"] = [{"targets": [address]}]
        with running_prometheus(tmp_path, config) as api:
            up = {item["metric"]["job"]: item["value"][1] for item in scraped(api, 2)}
            rules = httpx.get(f"{api}/rules", timeout=5, trust_env=False).json()["data"]["groups"]
            pool = query(api, "service_db_pool_size")
    assert up == {"registry": "1", "wrong-token": "0"}
    assert sum(len(group["rules"]) for group in rules) == len(alert_rules())
    assert [item["value"][1] for item in pool if item["metric"]["job"] == "registry"] == ["10"]


# ---- Kubernetes without the operator: prometheus-kubernetes.yml --------------------------------------------------

# Debian's Prometheus is built without Kubernetes discovery (promtool then refuses the field itself).
_NO_KUBERNETES_DISCOVERY = "field kubernetes_sd_configs not found"


def kubernetes_config(token: Path) -> dict[str, Any]:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus-kubernetes.yml").read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["authorization"]["credentials_file"] == "/etc/prometheus/secrets/metrics-token/token"
    job["authorization"]["credentials_file"] = str(token)
    return config


def sanitized(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def discovered_pod_targets(address: str) -> list[dict[str, Any]]:
    """The targets Kubernetes pod discovery makes of the shipped Deployments (deploy/k8s, PgBouncer's too), each
    pointed at `address`: one per container port, and one per container without a port (the migrate init
    containers), with the labels of the pod template — as Prometheus's `role: pod` documents them."""
    targets = []
    paths = [*sorted(K8S_DIR.glob("*.yaml")), K8S_DIR / "pgbouncer" / "pgbouncer.yaml"]
    documents = [d for path in paths for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        template = deployment["spec"]["template"]
        pod = {
            "__meta_kubernetes_namespace": deployment["metadata"]["namespace"],
            "__meta_kubernetes_pod_name": f"{deployment['metadata']['name']}-5d4f8b7c9-x2x7q",
            **{f"__meta_kubernetes_pod_label_{sanitized(k)}": v for k, v in template["metadata"]["labels"].items()},
            **{
                f"__meta_kubernetes_pod_annotation_{sanitized(k)}": v
                for k, v in template["metadata"].get("annotations", {}).items()
            },
        }
        containers = [(c, "false") for c in template["spec"]["containers"]]
        containers += [(c, "true") for c in template["spec"].get("initContainers", [])]
        for container, init in containers:
            labels = pod | {
                "__meta_kubernetes_pod_container_name": container["name"],
                "__meta_kubernetes_pod_container_init": init,
            }
            for port in container.get("ports") or [None]:
                if port is None:
                    targets.append({"targets": [address.partition(":")[0]], "labels": labels})
                else:
                    named = {"__meta_kubernetes_pod_container_port_name": port["name"]}
                    targets.append({"targets": [address], "labels": labels | named})
    return targets


def test_the_kubernetes_configuration_passes_promtool(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("a-token\n")
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    config = kubernetes_config(token)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run_promtool("check", "config", tmp_path / "prometheus.yml")
    if checked.returncode != 0:
        assert _NO_KUBERNETES_DISCOVERY in checked.stdout + checked.stderr, checked.stdout + checked.stderr
    # Everything but the discovery itself, which the test below stands in for with file discovery.
    (job,) = config["scrape_configs"]
    job.pop("kubernetes_sd_configs")
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run_promtool("check", "config", tmp_path / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout


def test_in_kubernetes_each_component_is_its_own_job_scraped_once_per_pod_with_the_token(tmp_path: Path) -> None:
    # The real server with the shipped relabelling, fed what pod discovery would find for the shipped Deployments
    # (every one pointed at one registry process, which answers any of them): one target per component pod — its
    # app container's `http` port —, job = the component, instance = the pod; init containers and PgBouncer left out.
    prometheus_server()
    token = tmp_path / "token"
    token.write_text(f"{METRICS_TOKEN}\n")
    config = kubernetes_config(token)
    (job,) = config["scrape_configs"]
    job.pop("kubernetes_sd_configs")
    job["file_sd_configs"] = [{"files": [str(tmp_path / "pods.json")]}]
    with registry_read_with_a_token() as address:
        targets = discovered_pod_targets(address)
        (tmp_path / "pods.json").write_text(json.dumps(targets))
        with running_prometheus(tmp_path, config) as api:
            up = {(i["metric"]["job"], i["metric"]["instance"]): i["value"][1] for i in scraped(api, len(COMPONENTS))}
            found = httpx.get(f"{api}/targets", timeout=5, trust_env=False).json()["data"]
            samples = query(api, "service_db_pool_size")
    assert up == {(name, f"{name}-5d4f8b7c9-x2x7q"): "1" for name in COMPONENTS}
    active = [target["labels"] for target in found["activeTargets"]]
    assert sorted(labels["job"] for labels in active) == sorted(COMPONENTS)
    assert {labels["namespace"] for labels in active} == {"producer-services"}
    assert {labels["pod"] for labels in active} == {f"{name}-5d4f8b7c9-x2x7q" for name in COMPONENTS}
    # Dropped: the migrate init containers (one per component pod and per worker pod), the workers' containers (no
    # port, no scrape annotation) and PgBouncer's pod.
    dropped = len(COMPONENTS) + 2 * len(WORKERS) + 1
    assert len(found["droppedTargets"]) == len(targets) - len(COMPONENTS) == dropped == 13
    assert sorted(sample["metric"]["job"] for sample in samples) == sorted(COMPONENTS)
