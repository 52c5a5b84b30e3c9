"""Test upstreams for the gateway: a signature-checking echo service, and servers that refuse, hang or hang up."""

import asyncio
import hashlib
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys.service import create_key, revoke_key
from gateway.main import create_app
from gateway.settings import GatewaySettings
from shared.db import make_sessionmaker
from shared.errors import install_error_handlers
from shared.middleware import ServiceMiddleware
from shared.nonces import NonceStore
from tests.support import TEST_SECRET, free_port


class Thing(BaseModel):
    name: str
    size: int = 0


class MemoryNonces(NonceStore):
    """The echo service has no database: the nonces it accepted are kept in memory."""

    def __init__(self) -> None:
        super().__init__(window_seconds=60)
        self.seen: set[str] = set()

    async def accept(self, scope: Any, nonce: str, timestamp: int) -> bool:
        if nonce in self.seen:
            return False
        self.seen.add(nonce)
        return True


def echo_app(secret: str = TEST_SECRET, audience: str = "registry") -> FastAPI:
    """A stand-in for the service `audience`: it verifies the gateway's signature like a real one and echoes what
    it received."""
    app = FastAPI(title="Echo", version="1")
    install_error_handlers(app)
    app.add_middleware(
        ServiceMiddleware,
        secret=secret,
        max_age_seconds=60,
        audience=audience,
        nonces=MemoryNonces(),
        max_body_bytes=64 * 1024 * 1024,
    )
    app.state.hits = 0

    async def echo(request: Request) -> dict[str, Any]:
        request.app.state.hits += 1
        body = await request.body()
        principal = request.state.principal
        return {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": [[k, v] for k, v in request.headers.items()],
            "principal": {"role": str(principal.role), "district": principal.district_code},
            "body_size": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "echo"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> dict[str, str]:
        return {"status": "ready", "service": "echo"}

    # Each service names its operations (unique across the services: the gateway keeps them as they are).
    @app.post(
        "/things",
        status_code=201,
        tags=["things"],
        summary="Make a thing",
        operation_id=f"make{audience.capitalize()}Thing",
    )
    async def make_thing(thing: Thing, request: Request) -> dict[str, Any]:
        return {"thing": thing.model_dump(), **(await echo(request))}

    @app.get(
        "/things/{thing_id}", tags=["things"], summary="One thing", operation_id=f"get{audience.capitalize()}Thing"
    )
    async def one_thing(thing_id: int, request: Request) -> dict[str, Any]:
        return {"thing_id": thing_id, **(await echo(request))}

    @app.get("/stream", tags=["misc"], operation_id=f"stream{audience.capitalize()}")
    async def stream(chunks: int = 5, size: int = 1024) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for index in range(chunks):
                yield bytes([65 + index % 26]) * size
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="application/octet-stream")

    @app.get("/cookie", tags=["misc"], operation_id=f"cookie{audience.capitalize()}")
    async def cookie(request: Request, value: str = "") -> JSONResponse:
        response = JSONResponse({"cookie_header": request.headers.get("cookie")})
        if value:
            response.set_cookie("session", value)
        return response

    @app.get("/slow", tags=["misc"], operation_id=f"slow{audience.capitalize()}")
    async def slow(seconds: float = 0.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/hop", tags=["misc"], operation_id=f"hop{audience.capitalize()}")
    async def hop() -> Response:
        return Response(
            b"hop",
            headers={
                "Connection": "close, x-private",
                "X-Private": "secret",
                "Keep-Alive": "timeout=5",
                "Server": "echo/1.0",
                "X-Kept": "yes",
            },
        )

    @app.get("/located", tags=["misc"], operation_id=f"located{audience.capitalize()}")
    async def located(to: str) -> Response:
        return Response(status_code=201, headers={"Location": to, "Content-Location": to})

    @app.api_route(
        "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
    )
    async def anything(path: str, request: Request) -> dict[str, Any]:
        return await echo(request)

    return app


class ServerThread:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread of its own."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> "ServerThread":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.02)
        raise RuntimeError("test server did not start")

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)


class RawServer:
    """A TCP server that misbehaves: `hang` accepts nothing (connections wait in the backlog), `hangup` accepts
    and closes at once, `garbage` answers what is not HTTP. It counts the connections it saw."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "RawServer":
        if self.mode in ("hangup", "garbage"):
            self.thread.start()
        return self

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with suppress(OSError):
                conn.recv(65536)
                if self.mode == "garbage":
                    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.sock.close()


def settings_for(database_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "environment": "test",
        "redis_url": "",
        "key_cache_seconds": 0,
        "openapi_cache_seconds": 0,
        "upstream_read_timeout": 5,
        "probe_timeout": 1,
        # Never the default ports: a developer may have `make run` going.
        "registry_url": "",
        "eligibility_url": "",
        "ranking_url": "",
        "monitoring_url": "",
        "notifications_url": "",
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The gateway app with its lifespan run, and an in-process client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test", timeout=30) as client:
            yield app, client


async def make_key(app: FastAPI, role: str, district: str | None = None) -> str:
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        key, _ = await create_key(session, role, district, label="test")
    return key


async def revoke(app: FastAPI, key: str) -> None:
    session: AsyncSession
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await revoke_key(session, key)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
