"""The ceiling: a bare ASGI app that answers each request with bytes recorded from the real service, nothing else.

Every HTTP figure of `make bench` is measured twice in the same run: against the service, and against this app
answering the same response body (status and content type too) to the same requests, sent by the same client code
the same number of times at the same concurrency. The app has no framework, no routing, no validation, no database:
it drains the request body, looks the answer up in a dict and sends it. What it takes is the floor of the
transport on this machine at this moment (the HTTP server, the loopback, the client; or, for figures measured
in-process, the ASGI call), so `ceiling ÷ measured` is the share of the time that transport alone would take, and
the rest is the service's own work.

It is served the way the measured app is served:
- over HTTP, by a uvicorn process started with exactly the flags of `make run` (`deploy.run_local.uvicorn_command`),
  `uvicorn --factory tests.bench._ceiling:create_app`; answers are recorded with `PUT /__ceiling__`;
- in-process, as the same `CeilingApp` object called through the same direct ASGI call as the service (for the
  figures issue 3 defines in-process).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.bench._services import served

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RECORD_PATH = "/__ceiling__"
FACTORY = "tests.bench._ceiling:create_app"


def request_target(raw_path: bytes, query_string: bytes) -> str:
    """The key of an answer: the raw path and the query string, as the client sent them."""
    target = raw_path.decode("latin-1")
    return f"{target}?{query_string.decode('latin-1')}" if query_string else target


def target_of(response: httpx.Response) -> str:
    """The key under which `response` is recorded: what the ASGI scope will carry for the same request."""
    return response.request.url.raw_path.decode("latin-1")


class CeilingApp:
    """Answers `(method, path?query)`, or failing that `(method, path)`, with the bytes recorded for it."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], tuple[int, list[tuple[bytes, bytes]], bytes]] = {}
        self.record("GET", "/healthz", 200, "application/json", b'{"status":"ok"}')

    def record(self, method: str, target: str, status: int, content_type: str, body: bytes) -> None:
        headers = [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())]
        self.answers[(method.upper(), target)] = (status, headers, body)

    def record_response(self, response: httpx.Response, *, whole_path: bool = False) -> None:
        """Record `response` for its request (`whole_path`: for every query string of its path)."""
        target = target_of(response)
        if whole_path:
            target = target.split("?", 1)[0]
        content_type = response.headers.get("content-type", "application/octet-stream")
        self.record(response.request.method, target, response.status_code, content_type, response.content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        # Read the whole request, as the service must.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        method = scope["method"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw_path.split(b"?", 1)[0]
        target = request_target(raw_path, scope.get("query_string", b""))
        if method == "PUT" and scope["path"] == RECORD_PATH:
            await self._record_from(scope, b"".join(chunks), send)
            return
        answer = self.answers.get((method, target)) or self.answers.get((method, raw_path.decode("latin-1")))
        if answer is None:
            answer = (404, [(b"content-type", b"text/plain"), (b"content-length", b"9")], b"not found")
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _record_from(self, scope: Scope, body: bytes, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        headers = dict(scope["headers"])
        self.record(
            query["method"][0],
            query["target"][0],
            int(query["status"][0]),
            headers.get(b"content-type", b"application/octet-stream").decode("latin-1"),
            body,
        )
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def create_app() -> CeilingApp:
    """The uvicorn factory."""
    return CeilingApp()


class CeilingServer:
    """The bare app in a uvicorn process; answers are recorded over HTTP before they are measured."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def record(self, response: httpx.Response, *, whole_path: bool = False) -> None:
        target = target_of(response)
        if whole_path:
            target = target.split("?", 1)[0]
        async with httpx.AsyncClient(timeout=60, trust_env=False) as client:
            answer = await client.put(
                self.url + RECORD_PATH,
                params={"method": response.request.method, "target": target, "status": response.status_code},
                headers={"content-type": response.headers.get("content-type", "application/octet-stream")},
                content=response.content,
            )
            answer.raise_for_status()


@asynccontextmanager
async def ceiling_server() -> AsyncIterator[CeilingServer]:
    """The bare app in a uvicorn process started with the flags of `make run`."""
    async with served(FACTORY) as url:
        yield CeilingServer(url)
