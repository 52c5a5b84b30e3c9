"""The streaming proxy against a real (threaded uvicorn) upstream that verifies the signature like a service."""

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import Message

from gateway.settings import SERVICE_NAMES
from gateway.upstream import Upstream
from shared.errors import NotFound, install_error_handlers
from tests.gateway.helpers import (
    RawServer,
    ServerThread,
    bearer,
    echo_app,
    make_key,
    running_gateway,
    settings_for,
)
from tests.support import TestDatabase

Gw = tuple[FastAPI, httpx.AsyncClient]


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key == name]


async def test_forwards_method_path_query_and_signed_principal(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "district", "500103")
    response = await client.get(
        "/api/v1/registry/things/42", params={"q": "渝中 区", "limit": "5"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["thing_id"] == 42
    assert echoed["path"] == "/things/42"
    assert echoed["query"] == "q=%E6%B8%9D%E4%B8%AD+%E5%8C%BA&limit=5"
    # The upstream's ServiceMiddleware accepted the signature and saw the key's principal.
    assert echoed["principal"] == {"role": "district", "district": "500103"}
    # The caller's key never reaches a service.
    assert header_values(echoed, "authorization") == []


async def test_percent_encoded_path_is_signed_as_the_service_sees_it(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    response = await client.get("/api/v1/registry/names/%E6%B8%9D%E4%B8%AD%20x", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "/names/渝中 x"


async def test_a_raw_byte_in_the_query_is_sent_percent_encoded_and_signed_so(gw: Gw) -> None:
    app, _ = gw
    key = await make_key(app, "city")
    started: list[Message] = []
    body: list[bytes] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        (started if message["type"] == "http.response.start" else body).append(message.get("body", message))

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": "/api/v1/registry/anything", "raw_path": b"/api/v1/registry/anything",
        "query_string": "q=渝中 区&x=|".encode(), "root_path": "", "client": ("203.0.113.8", 40000),
        "server": ("gateway.test", 80),
        "headers": [(b"host", b"gateway.test"), (b"authorization", f"Bearer {key}".encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    assert started[0]["status"] == 200  # the service accepted the signature over the query it received
    assert json.loads(b"".join(body))["query"] == "q=%E6%B8%9D%E4%B8%AD%20%E5%8C%BA&x=|"


async def test_anonymous_caller_on_public_route_is_forwarded_as_anonymous(gw: Gw) -> None:
    _, client = gw
    response = await client.get("/api/v1/eligibility/measures")
    assert response.status_code == 200, response.text
    assert response.json()["principal"] == {"role": "anonymous", "district": None}
    assert response.json()["path"] == "/measures"


async def test_forged_principal_headers_from_the_caller_are_replaced(gw: Gw) -> None:
    _, client = gw
    response = await client.get(
        "/api/v1/eligibility/measures",
        headers={"X-Principal-Role": "city", "X-Principal-District": "", "X-Principal-Signature": "f" * 64},
    )
    assert response.status_code == 200
    echoed = response.json()
    assert echoed["principal"]["role"] == "anonymous"
    assert header_values(echoed, "x-principal-role") == ["anonymous"]


async def test_hop_by_hop_headers_are_dropped_both_ways_and_forwarding_headers_set(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    response = await client.get(
        "/api/v1/registry/anything",
        headers={
            **bearer(key),
            "Connection": "keep-alive, x-drop-me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eA==",
            "Upgrade": "websocket",
            "X-Custom": "kept",
            "X-Forwarded-For": "198.51.100.1",
            "Forwarded": "for=198.51.100.1",
        },
    )
    echoed = response.json()
    names = {key for key, _ in echoed["headers"]}
    for dropped in ("x-drop-me", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert dropped not in names, dropped
    assert header_values(echoed, "x-custom") == ["kept"]
    # The caller is not a trusted proxy: what it claimed is not passed on, its own address is.
    assert header_values(echoed, "x-forwarded-for") == ["203.0.113.7"]
    assert header_values(echoed, "forwarded") == ['for=203.0.113.7;proto=http;host="gateway.test"']
    assert header_values(echoed, "x-forwarded-proto") == ["http"]
    assert header_values(echoed, "x-forwarded-host") == ["gateway.test"]

    hop = await client.get("/api/v1/registry/hop", headers=bearer(key))
    assert hop.status_code == 200
    assert hop.headers.get("x-kept") == "yes"
    assert "x-private" not in hop.headers  # named in the upstream's Connection header
    assert "keep-alive" not in hop.headers
    assert hop.headers.get("server") is None


async def test_request_body_is_streamed_through_unchanged(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    payload = bytes(range(256)) * 2000  # 512,000 bytes, under the 1 MiB limit

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    response = await client.post("/api/v1/registry/upload", content=chunks(), headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["body_size"] == len(payload)
    assert response.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()


async def test_json_body_and_status_pass_through(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    created = await client.post("/api/v1/registry/things", json={"name": "x", "size": 3}, headers=bearer(key))
    assert created.status_code == 201
    assert created.json()["thing"] == {"name": "x", "size": 3}
    invalid = await client.post("/api/v1/registry/things", json={"size": "big"}, headers=bearer(key))
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"


async def test_response_body_is_streamed(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    response = await client.get("/api/v1/registry/stream", params={"chunks": 40, "size": 4096}, headers=bearer(key))
    assert response.status_code == 200
    assert len(response.content) == 40 * 4096
    assert response.content[:4096] == b"A" * 4096


async def test_no_cookie_jar_is_shared_between_callers(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    first = await client.get("/api/v1/registry/cookie", params={"value": "alice"}, headers=bearer(key))
    assert "session=alice" in first.headers["set-cookie"]  # passed back to the caller who got it
    client.cookies.clear()
    second = await client.get("/api/v1/registry/cookie", headers=bearer(key))
    assert second.json()["cookie_header"] is None  # the gateway's upstream client did not keep it
    third = await client.get("/api/v1/registry/cookie", headers={**bearer(key), "Cookie": "mine=1"})
    assert third.json()["cookie_header"] == "mine=1"  # a caller's own cookie header is passed on as sent


async def test_request_id_is_accepted_forwarded_and_echoed(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    sent = {**bearer(key), "X-Request-ID": "trace-123.a", "X-Client-Request-ID": "forged"}
    response = await client.get("/api/v1/registry/anything", headers=sent)
    assert response.headers["x-request-id"] == "trace-123.a"
    # The service gets the system's id (signed) and the caller's beside it; a caller's X-Client-Request-ID is dropped.
    system_ids = header_values(response.json(), "x-request-id")
    assert len(system_ids) == 1 and len(system_ids[0]) == 32 and system_ids[0] != "trace-123.a"
    assert header_values(response.json(), "x-client-request-id") == ["trace-123.a"]

    made = await client.get("/api/v1/registry/anything", headers={**bearer(key), "X-Request-ID": "bad id\twith tab"})
    assert made.headers["x-request-id"] != "bad id\twith tab"
    assert len(made.headers["x-request-id"]) == 32
    assert header_values(made.json(), "x-request-id") == [made.headers["x-request-id"]]
    assert header_values(made.json(), "x-client-request-id") == []

    problem = await client.get("/api/v1/registry/anything", headers={"X-Request-ID": "trace-456"})
    assert problem.status_code == 401
    assert problem.headers["x-request-id"] == "trace-456"
    assert len(problem.json()["request_id"]) == 32


async def test_unknown_service_and_undeployed_service(gateway_db: TestDatabase, echo: ServerThread) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, eligibility_url="", ranking_url="")
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        unknown = await client.get("/api/v1/payroll/people", headers=bearer(key))
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert "registry" in unknown.json()["detail"]
        missing = await client.get("/api/v1/ranking/rankings/2025")
        assert missing.status_code == 503
        assert missing.json()["detail"] == "The ranking service is not deployed behind this gateway."
        monitoring = await client.get("/api/v1/monitoring/targets", headers=bearer(key))
        assert monitoring.status_code == 503
        assert monitoring.json()["detail"] == "The monitoring service is not deployed behind this gateway."
        ok = await client.get("/api/v1/registry/anything", headers=bearer(key))
        assert ok.status_code == 200


async def test_upstream_down_gives_503_and_the_gateway_recovers_when_it_returns(
    gateway_db: TestDatabase, closed_port_url: str
) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings = settings_for(gateway_db.url, registry_url=closed_port_url, eligibility_url="", ranking_url="")
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        started = time.monotonic()
        down = await client.get("/api/v1/registry/anything", headers=bearer(key))
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        assert down.json()["type"] == "/problems/upstream-unavailable"
        assert time.monotonic() - started < settings.upstream_connect_timeout + 1
        server = ServerThread(echo_app(), port=port).start()
        try:
            back = await client.get("/api/v1/registry/anything", headers=bearer(key))
            assert back.status_code == 200
        finally:
            server.stop()
        metrics = (await client.get("/metrics")).text
        assert 'gateway_upstream_errors_total{kind="unreachable",upstream="registry"} 1.0' in metrics


async def test_hung_upstream_gives_504_within_the_read_timeout(gateway_db: TestDatabase) -> None:
    hung = RawServer("hang").start()
    try:
        settings = settings_for(
            gateway_db.url, registry_url=hung.url, eligibility_url="", ranking_url="", upstream_read_timeout=0.5
        )
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            started = time.monotonic()
            response = await client.get("/api/v1/registry/anything", headers=bearer(key))
            elapsed = time.monotonic() - started
            assert response.status_code == 504
            assert response.json()["type"] == "/problems/upstream-timeout"
            assert response.json()["detail"] == "The registry service sent no answer for 0.5 seconds."
            assert 0.4 < elapsed < 2.0
    finally:
        hung.stop()


async def test_slow_but_answering_upstream_within_timeout_is_fine(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    response = await client.get("/api/v1/registry/slow", params={"seconds": 0.3}, headers=bearer(key))
    assert response.status_code == 200
    assert response.json() == {"slept": 0.3}


async def test_only_safe_bodiless_requests_are_sent_twice(gateway_db: TestDatabase) -> None:
    hangup = RawServer("hangup").start()
    try:
        settings = settings_for(gateway_db.url, registry_url=hangup.url, eligibility_url="", ranking_url="")
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            await asyncio.sleep(0.3)  # the start-up fetch of the service's OpenAPI document is done
            before = hangup.connections
            get = await client.get("/api/v1/registry/anything", headers=bearer(key))
            assert get.status_code == 503
            await asyncio.sleep(0.2)
            assert hangup.connections - before == 2  # tried, then retried once
            post = await client.post("/api/v1/registry/anything", json={"a": 1}, headers=bearer(key))
            assert post.status_code == 503
            await asyncio.sleep(0.2)
            assert hangup.connections - before == 3  # a POST is never sent twice
            # Nor a PUT or DELETE, which aiohttp would resend: the copy's spent nonce would answer a made write 401.
            for method in ("PUT", "DELETE"):
                write = await client.request(method, "/api/v1/registry/anything", headers=bearer(key))
                assert write.status_code == 503, method
                assert write.json()["type"] == "/problems/upstream-unavailable"
            await asyncio.sleep(0.2)
            assert hangup.connections - before == 5
    finally:
        hangup.stop()


async def test_an_answer_that_is_not_http_is_a_502(gateway_db: TestDatabase) -> None:
    garbage = RawServer("garbage").start()
    try:
        settings = settings_for(gateway_db.url, registry_url=garbage.url)
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            response = await client.get("/api/v1/registry/anything", headers=bearer(key))
            assert response.status_code == 502
            assert response.json()["type"] == "/problems/bad-gateway"
            assert response.json()["detail"] == "The registry service gave no usable answer."
            metrics = (await client.get("/metrics")).text
            assert 'gateway_upstream_errors_total{kind="error",upstream="registry"} 1.0' in metrics
    finally:
        garbage.stop()


async def test_every_connection_busy_for_the_pool_timeout_is_a_503_upstream_busy(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    settings = settings_for(
        gateway_db.url, registry_url=echo.url, upstream_max_connections=1, upstream_pool_timeout=0.3
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        slow = asyncio.create_task(client.get("/api/v1/registry/slow", params={"seconds": 1}, headers=bearer(key)))
        await asyncio.sleep(0.2)  # the slow request holds the one connection
        started = time.monotonic()
        busy = await client.get("/api/v1/registry/things/1", headers=bearer(key))
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["type"] == "/problems/upstream-busy"
        assert (
            busy.json()["detail"]
            == "Every connection to the registry service stayed busy for 0.3 seconds; try again shortly."
        )
        assert 0.25 < time.monotonic() - started < 1.0
        assert (await slow).status_code == 200
        assert (await client.get("/api/v1/registry/things/1", headers=bearer(key))).status_code == 200


async def test_head_requests_are_answered_without_a_body(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    for _ in range(2):  # the connection is used again after a HEAD
        response = await client.head("/api/v1/registry/things/5", headers=bearer(key))
        assert response.status_code == 200 and response.content == b""
        assert int(response.headers["content-length"]) > 0


async def test_concurrent_requests_share_the_pool(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    responses = await asyncio.gather(
        *(client.get(f"/api/v1/registry/things/{n}", headers=bearer(key)) for n in range(40))
    )
    assert [r.json()["thing_id"] for r in responses] == list(range(40))


async def test_the_services_own_documents_are_not_served_through_the_gateway(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    for path in ("/docs", "/docs/", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        for service in SERVICE_NAMES:
            response = await client.get(f"/api/v1/{service}{path}", headers=bearer(key))
            assert response.status_code == 404, (service, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "/openapi.json" in response.json()["detail"]


async def test_the_services_health_readiness_and_metrics_are_not_served_through_the_gateway(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    for path in ("/healthz", "/readyz", "/metrics", "/metrics/"):
        for service in SERVICE_NAMES:
            for headers in ({}, bearer(key)):  # refused before authentication, like the documents
                response = await client.get(f"/api/v1/{service}{path}", headers=headers)
                assert response.status_code == 404, (service, path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert "/healthz, /readyz and /metrics" in response.json()["detail"]
    assert (await client.get("/api/v1/registry/things/1", headers=bearer(key))).status_code == 200
    metrics = (await client.get("/metrics")).text
    for service in SERVICE_NAMES:  # 4 paths, with and without a key
        assert f'route="/api/v1/{service}/{{operation}}",status="404"}} 8.0' in metrics


async def test_bodies_that_trickle_hold_no_upstream_connection_and_end_in_a_408(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    # Attack test (issue 19, slow bodies): more callers than the upstream pool has connections announce a body and
    # send one byte of it. The body is read whole before a connection is taken, so the pool stays free: another
    # caller is answered at once (well under 1 s), and each trickling body ends in a 408 after the body timeout.
    settings = settings_for(
        gateway_db.url, registry_url=echo.url, upstream_max_connections=2, upstream_pool_timeout=1, body_timeout=1.5
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        answers: list[Message] = []

        async def trickle() -> None:
            sent = False

            async def receive() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": b"{", "more_body": True}
                await asyncio.sleep(3600)  # the rest of the body never comes
                return {"type": "http.disconnect"}

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    answers.append(message)

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                "path": "/api/v1/registry/things", "raw_path": b"/api/v1/registry/things", "query_string": b"",
                "root_path": "", "client": ("203.0.113.9", 40000), "server": ("gateway.test", 80),
                "headers": [(b"host", b"gateway.test"), (b"content-type", b"application/json"),
                            (b"content-length", b"100000"), (b"authorization", f"Bearer {key}".encode())],
            }  # fmt: skip
            await app(scope, receive, send)

        attackers = [asyncio.create_task(trickle()) for _ in range(5)]
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        response = await client.get("/api/v1/registry/things/7", headers=bearer(key))
        waited = time.perf_counter() - started
        assert response.status_code == 200 and waited < 1.0, (response.status_code, waited)
        await asyncio.wait_for(asyncio.gather(*attackers), timeout=10)
    assert [answer["status"] for answer in answers] == [408] * 5


async def test_bodies_beyond_the_process_budget_are_refused_before_they_are_read(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    # Bodies are held whole before they are sent on: two callers announcing 1 MiB each fill a 2 MiB budget, a third
    # is a 503 at once (nothing read, nothing sent), and once the two have gone the budget is whole again.
    settings = settings_for(
        gateway_db.url,
        registry_url=echo.url,
        max_body_bytes=1024 * 1024,
        max_import_body_bytes=1024 * 1024,
        max_buffered_body_bytes=2 * 1024 * 1024,
        body_timeout=1.0,
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        statuses: list[int] = []

        async def announce_and_stall() -> None:
            async def receive() -> Message:
                await asyncio.sleep(3600)
                return {"type": "http.disconnect"}

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                "path": "/api/v1/registry/things", "raw_path": b"/api/v1/registry/things", "query_string": b"",
                "root_path": "", "client": ("203.0.113.10", 40000), "server": ("gateway.test", 80),
                "headers": [(b"host", b"gateway.test"), (b"content-type", b"application/json"),
                            (b"content-length", str(1024 * 1024).encode()),
                            (b"authorization", f"Bearer {key}".encode())],
            }  # fmt: skip
            await app(scope, receive, send)

        stalled = [asyncio.create_task(announce_and_stall()) for _ in range(2)]
        await asyncio.sleep(0.3)
        refused = await client.post("/api/v1/registry/things", content=b"{}", headers=bearer(key))
        assert refused.status_code == 503 and refused.json()["type"].endswith("/gateway-busy")
        assert refused.headers["retry-after"] == "2"
        await asyncio.wait_for(asyncio.gather(*stalled), timeout=10)
        assert statuses == [408, 408]
        assert app.state.gateway.bodies.held == 0
        assert (await client.post("/api/v1/registry/things", content=b"{}", headers=bearer(key))).status_code < 500


async def test_a_target_that_looks_like_another_host_stays_on_the_service(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    # A join of `//host/…` to the service's origin would send the signed request to that host (SSRF).
    settings = settings_for(gateway_db.url, registry_url=echo.url)
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        response = await client.get("/api/v1/registry//169.254.169.254/latest/meta-data", headers=bearer(key))
        assert response.status_code == 200
        assert response.json()["path"] == "//169.254.169.254/latest/meta-data"  # as the echo service received it


async def test_the_callers_trace_is_continued_upstream_and_a_bad_one_replaced(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    sent = {**bearer(key), "traceparent": f"00-{trace_id}-{parent}-01", "tracestate": "vendor=x"}
    response = await client.get("/api/v1/registry/anything", headers=sent)
    assert response.status_code == 200
    [forwarded] = header_values(response.json(), "traceparent")
    version, forwarded_trace, span, flags = forwarded.split("-")
    # The same trace, the gateway's own hop as the parent; not the caller's sampling decision: without spans
    # exported here, the gateway sends on unsampled (an outside caller cannot make every service record).
    assert (version, forwarded_trace, flags) == ("00", trace_id, "00")
    assert len(span) == 16 and span != parent
    assert header_values(response.json(), "tracestate") == []
    assert "traceparent" not in response.headers  # nothing new for the caller: it has X-Request-ID
    for bad in ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "not a traceparent"):
        restarted = await client.get("/api/v1/registry/anything", headers={**bearer(key), "traceparent": bad})
        [new] = header_values(restarted.json(), "traceparent")
        assert new.startswith("00-") and new.split("-")[1] not in (trace_id, "0" * 32)
    plain = await client.get("/api/v1/registry/anything", headers=bearer(key))
    assert len(header_values(plain.json(), "traceparent")) == 1


async def test_a_hung_upstream_opens_its_circuit_and_is_refused_at_once_while_the_others_are_served(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    hung = RawServer("hang").start()
    try:
        settings = settings_for(
            gateway_db.url,
            registry_url=echo.url,
            ranking_url=hung.url,
            upstream_read_timeout=0.3,
            circuit_failure_threshold=2,
            circuit_cool_down_seconds=30,
        )
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            for _ in range(2):
                timed_out = await client.get("/api/v1/ranking/anything", headers=bearer(key))
                assert timed_out.status_code == 504
            # Refused without waiting for the upstream (its answer in under a second: tests/e2e/test_readiness.py).
            for method, body in (("GET", None), ("POST", b'{"a": 1}')):
                refused = await client.request(method, "/api/v1/ranking/anything", content=body, headers=bearer(key))
                assert refused.status_code == 503
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["type"] == "/problems/upstream-unavailable"
                assert refused.json()["detail"] == (
                    "The ranking service failed repeatedly and is given time to recover; it is tried again shortly."
                )
                assert 28 <= int(refused.headers["retry-after"]) <= 30
            served = await client.get("/api/v1/registry/things/1", headers=bearer(key))
            assert served.status_code == 200
            ready = (await client.get("/readyz")).json()
            assert ready["circuits"] == {"registry": "closed", "ranking": "open"}
            metrics = (await client.get("/metrics")).text
            assert 'gateway_upstream_circuit_state{upstream="ranking"} 2.0' in metrics
            assert 'gateway_upstream_circuit_state{upstream="registry"} 0.0' in metrics
            assert 'gateway_upstream_circuit_transitions_total{state="open",upstream="ranking"} 1.0' in metrics
            assert 'gateway_upstream_errors_total{kind="circuit_open",upstream="ranking"} 2.0' in metrics
            assert 'gateway_upstream_errors_total{kind="timeout",upstream="ranking"} 2.0' in metrics
    finally:
        hung.stop()


async def test_half_open_lets_one_probe_through_and_a_failed_probe_opens_it_again(gateway_db: TestDatabase) -> None:
    hung = RawServer("hang").start()
    try:
        settings = settings_for(
            gateway_db.url,
            ranking_url=hung.url,
            upstream_read_timeout=0.5,
            circuit_failure_threshold=1,
            circuit_cool_down_seconds=0.3,
        )
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            assert (await client.get("/api/v1/ranking/anything", headers=bearer(key))).status_code == 504
            await asyncio.sleep(0.35)
            answers = await asyncio.gather(
                *(client.get("/api/v1/ranking/anything", headers=bearer(key)) for _ in range(3))
            )
            # One probe waited for the timeout; the two others were refused while it was out.
            assert sorted(answer.status_code for answer in answers) == [503, 503, 504]
            assert [a.headers["retry-after"] for a in answers if a.status_code == 503] == ["1", "1"]
            assert app.state.gateway.upstreams["ranking"].breaker.state.label == "open"
            metrics = (await client.get("/metrics")).text
            assert 'gateway_upstream_circuit_transitions_total{state="open",upstream="ranking"} 2.0' in metrics
            assert 'gateway_upstream_circuit_transitions_total{state="half_open",upstream="ranking"} 1.0' in metrics
    finally:
        hung.stop()


async def test_a_successful_probe_closes_the_circuit(gateway_db: TestDatabase, closed_port_url: str) -> None:
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings = settings_for(
        gateway_db.url, registry_url=closed_port_url, circuit_failure_threshold=1, circuit_cool_down_seconds=0.3
    )
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        down = await client.get("/api/v1/registry/anything", headers=bearer(key))
        assert down.json()["detail"] == "The registry service is not reachable; try again shortly."
        refused = await client.get("/api/v1/registry/anything", headers=bearer(key))
        assert refused.status_code == 503 and "failed repeatedly" in refused.json()["detail"]
        server = ServerThread(echo_app(), port=port).start()
        try:
            await asyncio.sleep(0.35)
            assert (await client.get("/api/v1/registry/anything", headers=bearer(key))).status_code == 200
            assert (await client.get("/api/v1/registry/anything", headers=bearer(key))).status_code == 200
        finally:
            server.stop()
        metrics = (await client.get("/metrics")).text
        assert 'gateway_upstream_circuit_state{upstream="registry"} 0.0' in metrics
        for state in ("open", "half_open", "closed"):
            assert f'gateway_upstream_circuit_transitions_total{{state="{state}",upstream="registry"}} 1.0' in metrics


def unavailable_app() -> FastAPI:
    """A service that answers, promptly, that it cannot serve (its database is down)."""
    app = FastAPI()

    @app.get("/{path:path}")
    async def unavailable(path: str) -> JSONResponse:
        problem = {"type": "/problems/database-unavailable", "title": "Service Unavailable", "status": 503}
        return JSONResponse(problem, status_code=503, media_type="application/problem+json")

    return app


async def test_a_service_answering_503_itself_never_opens_its_circuit(gateway_db: TestDatabase) -> None:
    server = ServerThread(unavailable_app()).start()
    try:
        settings = settings_for(gateway_db.url, eligibility_url=server.url, circuit_failure_threshold=1)
        async with running_gateway(settings) as (app, client):
            key = await make_key(app, "city")
            for _ in range(4):
                answer = await client.get("/api/v1/eligibility/anything", headers=bearer(key))
                assert answer.status_code == 503
                assert answer.json()["type"] == "/problems/database-unavailable"  # the service's own problem
            assert app.state.gateway.upstreams["eligibility"].breaker.state.label == "closed"
    finally:
        server.stop()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_upstream_session_is_renewed_after_its_max_age_and_closed_when_its_exchanges_end(
    gateway_db: TestDatabase, echo: ServerThread
) -> None:
    clock = FakeClock()
    upstream = Upstream(echo.url, settings_for(gateway_db.url, upstream_connection_max_age=60), clock=clock)
    try:
        async with upstream.connection_slot() as first:
            async with first.get("/healthz") as response:
                assert response.status == 200
            clock.now = 53.0  # within the age (less its jitter of at most a tenth): the same session
            async with upstream.probe_session() as same:
                assert same is first
            clock.now = 60.0
            async with upstream.connection_slot() as second:
                assert second is not first
                async with second.get("/healthz") as response:
                    assert response.status == 200
            await asyncio.sleep(0.01)
            assert not first.closed  # its exchange is still going on
            async with first.get("/healthz") as response:
                assert response.status == 200
        await asyncio.sleep(0.01)
        assert first.closed and not second.closed
        assert upstream.session is second
    finally:
        await upstream.aclose()
    assert second.closed


async def test_requests_flow_across_session_renewals(gateway_db: TestDatabase, echo: ServerThread) -> None:
    settings = settings_for(gateway_db.url, registry_url=echo.url, upstream_connection_max_age=0.05)
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        upstream = app.state.gateway.upstreams["registry"]
        sessions = []
        for wave in range(4):
            await asyncio.sleep(0.06)  # the session is older than its max age: the wave's first request renews it
            answers = await asyncio.gather(
                *(client.get("/api/v1/registry/slow", params={"seconds": 0.03}, headers=bearer(key)) for _ in range(8))
            )
            assert [answer.status_code for answer in answers] == [200] * 8, wave
            sessions.append(upstream.session)
        await asyncio.sleep(0.01)
        assert len({id(session) for session in sessions}) == 4
        assert all(session.closed for session in sessions[:-1])


async def test_a_hung_name_resolution_is_bounded_by_the_connect_timeout(
    gateway_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def never_resolves(*_: object, **__: object) -> list[dict[str, Any]]:
        await asyncio.sleep(60)
        return []

    monkeypatch.setattr(aiohttp.resolver.DefaultResolver, "resolve", never_resolves)
    settings = settings_for(gateway_db.url, registry_url="http://registry.invalid:8001", upstream_connect_timeout=0.3)
    async with running_gateway(settings) as (app, client):
        key = await make_key(app, "city")
        started = time.monotonic()
        response = await client.get("/api/v1/registry/anything", headers=bearer(key))
        assert response.status_code == 503
        assert response.json()["detail"] == "The registry service did not accept a connection within 0.3 seconds."
        assert time.monotonic() - started < 2.0  # not the resolver's own minute
        metrics = (await client.get("/metrics")).text
        assert 'gateway_upstream_errors_total{kind="connect_timeout",upstream="registry"} 1.0' in metrics


async def test_the_service_is_told_its_prefix_and_a_callers_claim_is_dropped(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    for service in SERVICE_NAMES:
        response = await client.get(
            f"/api/v1/{service}/anything", headers={**bearer(key), "X-Forwarded-Prefix": "/api/v1/elsewhere"}
        )
        assert header_values(response.json(), "x-forwarded-prefix") == [f"/api/v1/{service}"]


def _items_app() -> FastAPI:
    """A service with GET and POST of one path as two routes, answering problems as every service does."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def list_items() -> list[str]:
        return []

    @app.post("/items")
    async def create_item() -> dict[str, str]:
        return {}

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        raise NotFound(f"No item {item_id}.")

    return app


async def test_the_services_405_and_its_allow_reach_the_caller_and_problems_name_the_callers_path(
    gateway_db: TestDatabase,
) -> None:
    server = ServerThread(_items_app()).start()
    try:
        async with running_gateway(settings_for(gateway_db.url, registry_url=server.url)) as (app, client):
            key = await make_key(app, "city")
            refused = await client.delete("/api/v1/registry/items", headers=bearer(key))
            assert refused.status_code == 405
            assert refused.headers["allow"] == "GET, POST"
            assert refused.json()["instance"] == "/api/v1/registry/items"
            missing = await client.get("/api/v1/registry/items/7", headers=bearer(key))
            assert missing.status_code == 404
            assert missing.json()["instance"] == "/api/v1/registry/items/7"
    finally:
        server.stop()


async def test_a_method_the_gateway_never_passes_on_is_its_405_naming_the_methods_of_the_path(gw: Gw) -> None:
    app, client = gw
    key = await make_key(app, "city")
    assert (await client.get("/openapi.json")).status_code == 200  # the services' documents are here
    one = await client.request("TRACE", "/api/v1/registry/things/1", headers=bearer(key))
    assert one.status_code == 405
    assert one.headers["allow"] == "GET"
    assert one.json()["instance"] == "/api/v1/registry/things/1"
    assert one.json()["detail"].endswith("it answers GET.")
    assert (await client.request("TRACE", "/api/v1/ranking/things", headers=bearer(key))).headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("named", "seen"),
    [
        ("/things/7", "/api/v1/registry/things/7"),
        ("/things/7?x=1", "/api/v1/registry/things/7?x=1"),
        ("/api/v1/registry/things/7", "/api/v1/registry/things/7"),
        ("https://elsewhere.example/things/7", "https://elsewhere.example/things/7"),
        ("//elsewhere.example/x", "//elsewhere.example/x"),
        ("things/7", "things/7"),
    ],
)
async def test_a_path_the_service_names_in_location_is_the_one_the_caller_reaches(
    gw: Gw, named: str, seen: str
) -> None:
    app, client = gw
    response = await client.get(
        "/api/v1/registry/located", params={"to": named}, headers=bearer(await make_key(app, "city"))
    )
    assert response.status_code == 201
    assert response.headers["location"] == seen
    assert response.headers["content-location"] == seen
