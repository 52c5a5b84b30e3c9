"""shared.http: signed reads between services (carrying the request ids and the trace), retries on idempotent reads
only, 503 when an upstream is gone."""

import socket

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.auth import body_digest, verify_principal
from shared.http import ServiceClient, UpstreamUnavailable, make_http_client
from shared.requestid import reset_request_id, set_request_id
from shared.tracing import TraceContext, reset_trace, set_trace
from tests.support import TEST_SECRET

calls: list[str] = []
traceparents: list[str | None] = []
upstream = FastAPI()


@upstream.get("/things")
async def things(request: Request) -> JSONResponse:
    calls.append("things")
    query = request.scope["query_string"].decode()
    target = request.url.path + (f"?{query}" if query else "")
    signed = verify_principal(
        TEST_SECRET, 15, "GET", target, dict(request.headers.items()), audience="upstream", body_sha256=body_digest(b"")
    )
    cursor = request.query_params.get("cursor")
    page = {"items": [1, 2], "next_cursor": "b"} if cursor is None else {"items": [3], "next_cursor": None}
    ids = {"request_id": signed.request_id, "client_request_id": request.headers.get("x-client-request-id")}
    return JSONResponse({**page, "role": str(signed.principal.role), **ids})


@upstream.get("/flaky")
async def flaky(request: Request) -> JSONResponse:
    calls.append("flaky")
    traceparents.append(request.headers.get("traceparent"))
    return JSONResponse({"ok": True}) if calls.count("flaky") >= 3 else JSONResponse({}, status_code=503)


@upstream.get("/broken")
async def broken() -> JSONResponse:
    calls.append("broken")
    return JSONResponse({}, status_code=500)


def client(retries: int = 2) -> ServiceClient:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=upstream), base_url="http://upstream")
    return ServiceClient(http, upstream="upstream", secret=TEST_SECRET, retries=retries, backoff_seconds=0.001)


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()
    traceparents.clear()


async def test_signed_paginated_reads():
    pages = [page async for page in client().pages("/things", page_size=2)]
    assert pages == [[1, 2], [3]]
    assert (await client().get("/things"))["role"] == "service"


async def test_the_request_ids_are_passed_on_signed():
    token = set_request_id("a" * 32, "mine-123")
    try:
        answer = await client().get("/things")
    finally:
        reset_request_id(token)
    assert (answer["request_id"], answer["client_request_id"]) == ("a" * 32, "mine-123")
    # Outside a request (a background job) a system id is made and no caller's id is claimed.
    alone = await client().get("/things")
    assert len(alone["request_id"]) == 32 and alone["client_request_id"] is None


async def test_every_attempt_carries_the_trace_as_a_span_of_its_own():
    token = set_trace(TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", sampled=True))
    try:
        assert await client().get("/flaky") == {"ok": True}
    finally:
        reset_trace(token)
    fields = [str(value).split("-") for value in traceparents]
    assert [(f[0], f[1], f[3]) for f in fields] == [("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")] * 3
    spans = {f[2] for f in fields}
    assert len(spans) == 3 and "00f067aa0ba902b7" not in spans


async def test_missing_is_none_and_503_is_retried():
    assert await client().get("/nowhere") is None
    assert await client().get("/flaky") == {"ok": True}
    assert calls.count("flaky") == 3


async def test_a_500_is_not_retried_and_becomes_a_503_problem():
    with pytest.raises(UpstreamUnavailable) as raised:
        await client().get("/broken")
    assert raised.value.status == 503 and "HTTP 500" in raised.value.detail
    assert calls == ["broken"]


async def test_an_upstream_that_is_down():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = make_http_client(f"http://127.0.0.1:{port}", timeout_seconds=1)
    async with http:
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await ServiceClient(http, upstream="down", secret=TEST_SECRET, retries=1, backoff_seconds=0.001).get("/x")
