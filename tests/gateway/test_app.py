"""The gateway's own routes and cross-cutting behaviour: health, readiness, metrics, the merged OpenAPI document,
the docs page, body limits, CORS, and problems for every error."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.keys.service import split_key
from gateway.main import DOCS_HTML, EXPOSED_HEADERS, GatewayNotReadyProblem
from gateway.settings import SERVICE_NAMES, GatewaySettings
from tests.gateway.helpers import RawServer, ServerThread, bearer, echo_app, make_key, running_gateway, settings_for
from tests.support import TestDatabase

Gw = tuple[FastAPI, httpx.AsyncClient]


async def test_healthz_and_readyz(gw: Gw) -> None:
    _, client = gw
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "service": "gateway"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "rate_limit_store": "ok",
            "registry": "ok",
            "eligibility": "ok",
            "ranking": "ok",
            "monitoring": "ok",
            "notifications": "ok",
        },
        "circuits": {name: "closed" for name in SERVICE_NAMES},
    }


def test_every_service_has_an_upstream_setting_on_its_own_default_port(gateway_db: TestDatabase) -> None:
    # run_local gives the services ports 8001… in the order of SERVICE_NAMES; the gateway's defaults must agree.
    assert SERVICE_NAMES == ("registry", "eligibility", "ranking", "monitoring", "notifications")
    defaults = [GatewaySettings.model_fields[f"{name}_url"].default for name in SERVICE_NAMES]
    assert defaults == [f"http://127.0.0.1:{8001 + index}" for index in range(len(SERVICE_NAMES))]
    urls = {f"{name}_url": f" http://{name}:{8001 + index}/ " for index, name in enumerate(SERVICE_NAMES)}
    deployed = settings_for(gateway_db.url, **urls).upstream_urls()
    assert deployed == {name: f"http://{name}:{8001 + index}" for index, name in enumerate(SERVICE_NAMES)}
    assert list(settings_for(gateway_db.url, monitoring_url="http://monitoring:8004").upstream_urls()) == ["monitoring"]
    only = settings_for(gateway_db.url, notifications_url="http://notifications:8005").upstream_urls()
    assert only == {"notifications": "http://notifications:8005"}


async def test_an_upstream_or_redis_down_leaves_the_gateway_ready_and_is_reported(
    gateway_db: TestDatabase, echo: ServerThread, closed_port_url: str
) -> None:
    # Every gateway replica sees the same upstreams: were one of them to make it unready, all would go at once.
    settings = settings_for(
        gateway_db.url, registry_url=echo.url, eligibility_url=closed_port_url, redis_url="redis://127.0.0.1:1/0"
    )
    async with running_gateway(settings) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "degraded",
            "checks": {
                "database": "ok",
                "rate_limit_store": "unreachable: ConnectionError",
                "registry": "ok",
                "eligibility": "unreachable: ClientConnectorError",
            },  # ranking, monitoring and notifications are not deployed, so not probed
            "circuits": {"registry": "closed", "eligibility": "closed"},
        }
        metrics = (await client.get("/metrics")).text
        assert 'gateway_upstream_up{upstream="registry"} 1.0' in metrics
        assert 'gateway_upstream_up{upstream="eligibility"} 0.0' in metrics
        assert "gateway_rate_limit_store_up 0.0" in metrics
        assert 'gateway_upstream_circuit_state{upstream="eligibility"} 0.0' in metrics


async def test_readyz_sees_an_unreachable_database(echo: ServerThread, closed_port_url: str) -> None:
    port = closed_port_url.rsplit(":", 1)[1]
    settings = settings_for(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nothing", registry_url=echo.url)
    async with running_gateway(settings) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        problem = ready.json()
        assert problem["checks"]["database"].startswith("unreachable")
        assert problem["checks"]["registry"] == "ok"
        assert problem["circuits"] == {"registry": "closed"}
        assert "key database" in problem["detail"]
        assert GatewayNotReadyProblem.model_validate(problem).circuits == {"registry": "closed"}
        assert (await client.get("/healthz")).status_code == 200
        assert "gateway_key_database_up 0.0" in (await client.get("/metrics")).text


async def test_readyz_answers_at_once_from_the_last_probes_while_an_upstream_hangs(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    hung = RawServer("hang").start()
    try:
        settings = settings_for(
            gateway_db.url, registry_url=echo.url, ranking_url=hung.url, probe_timeout=2, upstream_probe_interval=0.2
        )
        async with running_gateway(settings) as (_, client):
            first = await client.get("/readyz")  # the first round of probes is waited for: one probe timeout
            assert first.status_code == 200
            assert first.json()["checks"]["ranking"] == "unreachable: TimeoutError"
            await asyncio.sleep(0.3)  # the next round is under way, its probe of ranking hanging for 2 s
            for _ in range(3):
                started = time.monotonic()
                again = await client.get("/readyz")
                assert again.status_code == 200
                assert time.monotonic() - started < 1.0
            assert again.json()["checks"] == {
                "database": "ok",
                "rate_limit_store": "ok",
                "registry": "ok",
                "ranking": "unreachable: TimeoutError",
            }
    finally:
        hung.stop()


async def test_readiness_follows_an_upstream_that_comes_back(gateway_db: TestDatabase, closed_port_url: str) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings = settings_for(gateway_db.url, registry_url=closed_port_url, upstream_probe_interval=0.1)
    async with running_gateway(settings) as (_, client):
        assert (await client.get("/readyz")).json()["checks"]["registry"] == "unreachable: ClientConnectorError"
        server = ServerThread(echo_app(), port=port).start()
        try:
            deadline = time.monotonic() + 5
            while (await client.get("/readyz")).json()["status"] != "ready":
                assert time.monotonic() < deadline, "the probes did not see the registry come back"
                await asyncio.sleep(0.05)
            assert 'gateway_upstream_up{upstream="registry"} 1.0' in (await client.get("/metrics")).text
        finally:
            server.stop()


async def test_metrics_are_read_with_the_metrics_token(gateway_db: TestDatabase, echo: ServerThread) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, metrics_token="prometheus-reads-this")
    async with running_gateway(settings) as (app, client):
        anonymous = await client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert (await client.get("/metrics", headers=bearer("something-else"))).status_code == 403
        # An API key is not a metrics token, not even the city's.
        assert (await client.get("/metrics", headers=bearer(await make_key(app, "city")))).status_code == 403
        allowed = await client.get("/metrics", headers=bearer("prometheus-reads-this"))
        assert allowed.status_code == 200
        assert "gateway_requests_total" in allowed.text


async def test_metrics_by_route_template_and_status(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    await app.state.gateway.specs.fetch("registry")  # the route templates come from the service's spec
    for thing in (1, 2, 3):
        await client.get(f"/api/v1/registry/things/{thing}", headers=bearer(key))
    await client.get("/api/v1/registry/things/4")
    await client.get("/nowhere")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'gateway_requests_total{method="GET",route="/api/v1/registry/things/{thing_id}",status="200"} 3.0' in text
    assert 'gateway_requests_total{method="GET",route="/api/v1/registry/things/{thing_id}",status="401"} 1.0' in text
    assert 'gateway_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/registry/things/' in text
    assert "gateway_upstream_response_seconds_count" in text
    assert "gateway_requests_in_flight" in text


async def test_merged_openapi_document_is_valid_and_keeps_the_services_names(gw: Gw) -> None:
    _, client = gw
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    schemas = spec["components"]["schemas"]
    for service in SERVICE_NAMES:
        assert f"/api/v1/{service}/things" in paths
        assert f"/api/v1/{service}/things/{{thing_id}}" in paths
        body = paths[f"/api/v1/{service}/things"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        # The four echo services' Thing is one schema, under its own name.
        assert body == {"$ref": "#/components/schemas/Thing"}
        assert paths[f"/api/v1/{service}/things"]["post"]["operationId"] == f"make{service.capitalize()}Thing"
    assert "Thing" in schemas and not any(name.endswith("_Thing") for name in schemas)
    assert "x-schema-collisions" not in spec
    assert "/healthz" in paths and "/readyz" in paths
    assert "/api/v1/registry/healthz" not in paths
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key made by `python -m gateway.keys`.",
    }
    secured = paths["/api/v1/registry/things/{thing_id}"]["get"]
    assert secured["security"] == [{"bearer": []}]
    assert secured["x-roles"] == ["auditor", "city", "district"]
    assert secured["responses"]["401"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "429" in secured["responses"] and "504" in secured["responses"]
    assert secured["description"].startswith("**Who may call:** city, district and auditor keys")
    writes = paths["/api/v1/ranking/things"]["post"]
    assert writes["x-roles"] == ["city"]
    assert "413" in writes["responses"]
    assert paths["/healthz"]["get"]["security"] == []
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))
    assert paths["/readyz"]["get"]["operationId"] == "getGatewayReadiness"
    unready = paths["/readyz"]["get"]["responses"]["503"]["content"]["application/problem+json"]["schema"]
    assert unready == {"$ref": "#/components/schemas/GatewayNotReadyProblem"}
    assert spec["info"]["contact"]["name"].startswith("重庆市发展和改革委员会")
    assert spec["info"]["license"] == {"name": spec["info"]["license"]["name"], "identifier": "LicenseRef-Proprietary"}
    # Served at the URL the caller used.
    assert spec["servers"] == [{"url": "http://gateway.test", "description": spec["servers"][0]["description"]}]


async def test_the_document_names_the_scheme_a_trusted_proxy_forwarded(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "Host": "api.cq.test"}
    async with running_gateway(settings_for(gateway_db.url, registry_url=echo.url)) as (_, client):
        untrusted = (await client.get("/openapi.json", headers=forwarded)).json()
        assert untrusted["servers"][0]["url"] == "http://api.cq.test"
        odd = (await client.get("/openapi.json", headers={"Host": "api.cq.test/evil?"})).json()
        assert odd["servers"][0]["url"] == "/"
    # The test client's address (203.0.113.7) is the trusted proxy.
    settings = settings_for(gateway_db.url, registry_url=echo.url, trusted_proxies=["203.0.113.0/24"])
    async with running_gateway(settings) as (_, client):
        trusted = (await client.get("/openapi.json", headers=forwarded)).json()
        assert trusted["servers"][0]["url"] == "https://api.cq.test"


async def test_openapi_leaves_out_a_service_that_is_down(
    gateway_db: TestDatabase, echo: ServerThread, closed_port_url: str
) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, ranking_url=closed_port_url)
    async with running_gateway(settings) as (_, client):
        spec = (await client.get("/openapi.json")).json()
        validate(spec)
        assert spec["x-unavailable-services"] == ["ranking"]
        assert "/api/v1/registry/things" in spec["paths"]
        assert not any(path.startswith("/api/v1/ranking") for path in spec["paths"])


async def test_docs_page_and_its_assets_come_from_the_gateway(gw: Gw) -> None:
    _, client = gw
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in DOCS_HTML and "https://" not in DOCS_HTML and "//" not in DOCS_HTML.replace("<!--", "")
    for asset in ("docs/assets/swagger-ui.css", "docs/assets/swagger-ui-bundle.js", "docs/init.js"):
        assert asset in page.text
        served = await client.get("/" + asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100
    init = (await client.get("/docs/init.js")).text
    assert 'url: "openapi.json"' in init and "validatorUrl: null" in init
    assert (await client.get("/docs/assets/nothing.js")).status_code == 404


async def test_body_limit_413_by_content_length_and_while_streaming(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, max_body_bytes=2048, max_import_body_bytes=8192)
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        declared = await client.post("/api/v1/registry/anything", content=b"x" * 3000, headers=bearer(key))
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"
        assert "at most 2048" in declared.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 512

        streamed = await client.post("/api/v1/registry/anything", content=chunks(), headers=bearer(key))
        assert streamed.status_code == 413
        assert streamed.json()["type"] == "/problems/payload-too-large"
        # Imports have their own, larger limit.
        imported = await client.post("/api/v1/registry/enterprises/import", content=b"z" * 6000, headers=bearer(key))
        assert imported.status_code == 200
        assert imported.json()["body_size"] == 6000
        too_big = await client.post("/api/v1/registry/enterprises/import", content=b"z" * 9000, headers=bearer(key))
        assert too_big.status_code == 413
        # The limit is checked before the key: nothing is read from an anonymous flood either.
        anonymous = await client.post("/api/v1/eligibility/calculate", content=b"x" * 3000)
        assert anonymous.status_code == 413


async def test_malformed_json_reaches_the_service_and_comes_back_as_its_problem(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    response = await client.post(
        "/api/v1/registry/things", content=b'{"name": ', headers={**bearer(key), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/malformed-json"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("POST", "/healthz", 405), ("GET", "/api/v1", 404), ("GET", "/api/v1/", 404)],
)
async def test_gateway_errors_are_problems(gw: Gw, method: str, path: str, status: int) -> None:
    _, client = gw
    # A caller's X-Forwarded-Prefix is not believed: the instance is the path it called.
    response = await client.request(method, path, headers={"X-Request-ID": "err-1", "X-Forwarded-Prefix": "/api/v1/x"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == path
    # The caller's id comes back in the header; the body names the system's, the one the logs are searched by.
    assert response.headers["x-request-id"] == "err-1"
    assert len(response.json()["request_id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/healthz", "GET"),
        ("DELETE", "/readyz", "GET"),
        ("PUT", "/openapi.json", "GET"),
        ("POST", "/docs/assets/swagger-ui.css", "GET, HEAD"),
    ],
)
async def test_a_405_on_the_gateways_own_paths_names_the_methods_they_answer(
    gw: Gw, method: str, path: str, allowed: str
) -> None:
    _, client = gw
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == path
    for answered in allowed.split(", "):
        assert (await client.request(answered, path)).status_code == 200, answered


async def test_cors_allow_list(gateway_db: TestDatabase, echoes: dict[str, ServerThread]) -> None:
    echo = echoes["eligibility"]
    settings = settings_for(gateway_db.url, eligibility_url=echo.url, cors_origins=["https://screens.cq.example"])
    async with running_gateway(settings) as (_, client):
        preflight = await client.options(
            "/api/v1/eligibility/calculate",
            headers={
                "Origin": "https://screens.cq.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://screens.cq.example"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert preflight.headers["access-control-allow-methods"].startswith("GET")
        simple = await client.get("/api/v1/eligibility/measures", headers={"Origin": "https://screens.cq.example"})
        assert simple.headers["access-control-allow-origin"] == "https://screens.cq.example"
        exposed = {name.strip().lower() for name in simple.headers["access-control-expose-headers"].split(",")}
        wanted = {"x-request-id", "etag", "location", "retry-after", "content-disposition", "idempotent-replayed"}
        assert exposed == wanted == {name.lower() for name in EXPOSED_HEADERS}
        other = await client.get("/api/v1/eligibility/measures", headers={"Origin": "https://evil.example"})
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        refused = await client.options(
            "/api/v1/eligibility/calculate",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/cors-refused"
        assert refused.json()["instance"] == "/api/v1/eligibility/calculate"
        assert refused.json()["request_id"] == refused.headers["x-request-id"]
    # No origins configured: no CORS headers at all.
    async with running_gateway(settings_for(gateway_db.url, eligibility_url=echo.url)) as (_, client):
        plain = await client.get("/api/v1/eligibility/measures", headers={"Origin": "https://screens.cq.example"})
        assert "access-control-allow-origin" not in plain.headers


async def test_the_key_database_its_pool_and_the_process_are_exported(gateway_db: TestDatabase) -> None:
    settings = settings_for(gateway_db.url, database_pool_size=2, database_max_overflow=1)
    async with running_gateway(settings) as (app, client):
        await client.get("/readyz")  # after the first round of probes
        families = {
            family.name: family for family in text_string_to_metric_families((await client.get("/metrics")).text)
        }
        value = {
            sample.name: sample.value for family in families.values() for sample in family.samples if not sample.labels
        }
        assert value["gateway_key_database_up"] == 1
        assert (value["gateway_db_pool_size"], value["gateway_db_pool_max_connections"]) == (2, 3)
        assert (value["gateway_db_pool_checked_out"], value["gateway_db_pool_overflow"]) == (0, 0)
        assert value["process_resident_memory_bytes"] > 0 and "process_cpu_seconds" in families
        engine = app.state.engine
        async with engine.connect(), engine.connect(), engine.connect():  # the whole pool and its overflow, taken
            text = (await client.get("/metrics")).text
            assert "gateway_db_pool_checked_out 3.0" in text
            assert "gateway_db_pool_overflow 1.0" in text
        assert "gateway_db_pool_checked_out 0.0" in (await client.get("/metrics")).text


async def test_a_method_outside_the_standard_ones_is_counted_as_other(gw: Gw) -> None:
    _, client = gw
    for method in ("PROPFIND", "MKCALENDAR", "PATCH"):
        await client.request(method, "/nowhere")
    text = (await client.get("/metrics")).text
    assert 'gateway_requests_total{method="other",route="unmatched",status="404"} 2.0' in text
    assert 'gateway_requests_total{method="PATCH",route="unmatched",status="404"} 1.0' in text
    assert "PROPFIND" not in text and "MKCALENDAR" not in text


async def test_the_readiness_loop_closes_an_idle_circuit_once_its_upstream_is_ready(
    gateway_db: TestDatabase, closed_port_url: str
) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings = settings_for(
        gateway_db.url,
        registry_url=closed_port_url,
        circuit_failure_threshold=1,
        circuit_cool_down_seconds=0.5,
        upstream_probe_interval=0.1,
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        assert (await client.get("/api/v1/registry/anything", headers=bearer(key))).status_code == 503
        assert (await client.get("/readyz")).json()["circuits"] == {"registry": "open"}

        async def circuit_gauge(expected: float) -> None:
            deadline = time.monotonic() + 5
            while (
                f'gateway_upstream_circuit_state{{upstream="registry"}} {expected}'
                not in (await client.get("/metrics")).text
            ):
                assert time.monotonic() < deadline, f"the circuit's gauge never read {expected}"
                await asyncio.sleep(0.05)

        # Past the cool-down with no request and the service still down: half-open, not open for ever.
        await circuit_gauge(1.0)
        assert (await client.get("/readyz")).json()["circuits"] == {"registry": "half_open"}
        server = ServerThread(echo_app(), port=port).start()
        try:
            await circuit_gauge(0.0)  # its probe answered 200: closed, still without a request
            ready = (await client.get("/readyz")).json()
            assert ready["circuits"] == {"registry": "closed"} and ready["status"] == "ready"
            metrics = (await client.get("/metrics")).text
            for state in ("open", "half_open", "closed"):
                assert f'gateway_upstream_circuit_transitions_total{{state="{state}",upstream="registry"}} 1.0' in (
                    metrics
                )
            assert (await client.get("/api/v1/registry/anything", headers=bearer(key))).status_code == 200
        finally:
            server.stop()


async def test_the_last_key_uses_are_written_before_the_gateway_stops(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url)
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        assert (await client.get("/api/v1/registry/things/1", headers=bearer(key))).status_code == 200
        authenticator = app.state.gateway.authenticator
    # Shut down at once after the request: the lifespan waited for the use's write, before the engine went.
    assert authenticator._writer is not None and authenticator._writer.done() and not authenticator._unwritten
    engine = create_async_engine(gateway_db.url)
    try:
        async with engine.connect() as connection:
            used = await connection.scalar(
                text("SELECT last_used_at FROM api_keys WHERE key_id = :id"), {"id": split_key(key)}
            )
    finally:
        await engine.dispose()
    assert used is not None
