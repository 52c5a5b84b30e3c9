"""The proxy's HTTP/1.1 client (gateway/upstream.py) against a scripted server: keep-alive, bodies both ways,
answers that end a connection, and each way an exchange can fail."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.upstream import ConnectFailed, ConnectionBroken, ProtocolFailure, TimedOut, UpstreamPool
from tests.support import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Script:
    """A server that reads each request (head and body) and answers with what `answer` returns for it."""

    def __init__(self, answer: Callable[[bytes, bytes], Awaitable[bytes | None]], *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after  # close each connection right after its first answer
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "Script":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                body = b""
                lines = head.lower().split(b"\r\n")
                length = [int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")]
                if length:
                    body = await reader.readexactly(length[0])
                elif b"transfer-encoding: chunked" in lines:
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                self.requests.append((head, body))
                answer = await self.answer(head, body)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def pool(port: int, **overrides: float) -> UpstreamPool:
    settings: dict[str, float] = {
        "max_connections": 4,
        "max_keepalive": 4,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "write_timeout": 1.0,
        "pool_timeout": 1.0,
        **overrides,
    }
    return UpstreamPool(
        "127.0.0.1",
        port,
        max_connections=int(settings["max_connections"]),
        max_keepalive=int(settings["max_keepalive"]),
        connect_timeout=settings["connect_timeout"],
        read_timeout=settings["read_timeout"],
        write_timeout=settings["write_timeout"],
        pool_timeout=settings["pool_timeout"],
    )


async def fetch(
    upstream: UpstreamPool,
    method: str = "GET",
    target: bytes = b"/x",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: list[bytes] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in body or []:
            yield chunk

    sent = list(headers or [])
    response = await upstream.request(
        method,
        target,
        sent,
        chunks() if body is not None else None,
        content_length=any(name == b"content-length" for name, _ in sent),
    )
    try:
        received = b"".join([chunk async for chunk, _ in response.chunks()])
    finally:
        await response.aclose()
    return response.status_code, response.headers, received


async def test_one_connection_serves_request_after_request_with_bodies_either_way() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b"got " + body)

    async with Script(answer) as server:
        upstream = pool(server.port)
        assert (await fetch(upstream))[2] == b"got "
        sized = await fetch(upstream, "POST", headers=[(b"content-length", b"5")], body=[b"he", b"llo"])
        assert sized[2] == b"got hello"
        chunked = await fetch(upstream, "POST", body=[b"a" * 70_000, b"", b"b"])
        assert chunked[2] == b"got " + b"a" * 70_000 + b"b"
        assert server.connections == 1
        head, _ = server.requests[0]
        assert head.startswith(b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n" % server.port)
        assert b"transfer-encoding: chunked" in server.requests[2][0]
        await upstream.aclose()


async def test_chunked_and_interim_answers_are_read_whole() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return (
            b"HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )

    async with Script(answer) as server:
        upstream = pool(server.port)
        status, headers, body = await fetch(upstream)
        assert (status, body) == (201, b"abcde")
        assert (b"x-a", b"1") in headers and not any(name == b"link" for name, _ in headers)
        await fetch(upstream)
        assert server.connections == 1
        await upstream.aclose()


async def test_answers_that_end_the_connection() -> None:
    async def answer(head: bytes, body: bytes) -> bytes | None:
        if head.startswith(b"HEAD"):
            return ok(b"not sent", b"")[: -len(b"not sent")]  # a HEAD answer: a length, no body
        if b"/close" in head:
            return ok(b"bye", b"connection: close\r\n")
        return ok()

    async with Script(answer) as server:
        upstream = pool(server.port)
        assert (await fetch(upstream, "HEAD"))[0::2] == (200, b"")
        assert (await fetch(upstream))[2] == b"ok"
        assert (await fetch(upstream, target=b"/close"))[2] == b"bye"
        assert (await fetch(upstream))[2] == b"ok"
        assert server.connections == 3  # neither after HEAD nor after `connection: close` is the connection kept
        await upstream.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok()

    async with Script(answer, close_after=True) as server:
        upstream = pool(server.port)
        for _ in range(3):
            assert (await fetch(upstream))[2] == b"ok"
            await asyncio.sleep(0.05)  # the end of the connection arrives while it is idle in the pool
        assert server.connections == 3
        await upstream.aclose()


async def test_a_server_that_hangs_up_instead_of_answering() -> None:
    async def answer(head: bytes, body: bytes) -> None:
        return None

    async with Script(answer) as server:
        assert isinstance(await fetch_fails(pool(server.port)), ConnectionBroken)  # the proxy retries a GET once


async def fetch_fails(upstream: UpstreamPool, target: bytes = b"/x") -> Exception:
    try:
        await fetch(upstream, target=target)
    except Exception as error:
        return error
    raise AssertionError("the exchange did not fail")


async def test_timeouts_refusals_and_garbage() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        if b"/slow" in head:
            await asyncio.sleep(2)
        if b"/stall" in head:
            return b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf"
        if b"/garbage" in head:
            return b"NOT HTTP AT ALL\r\n\r\n"
        return ok()

    async with Script(answer) as server:
        upstream = pool(server.port, read_timeout=0.3)
        assert isinstance(await fetch_fails(upstream, target=b"/slow"), TimedOut)
        assert isinstance(await fetch_fails(upstream, target=b"/stall"), TimedOut)
        assert isinstance(await fetch_fails(upstream, target=b"/garbage"), ProtocolFailure)
        assert (await fetch(upstream))[2] == b"ok"
        await upstream.aclose()
    assert isinstance(await fetch_fails(pool(free_port())), ConnectFailed)


async def test_at_most_max_connections_and_a_bounded_wait_for_one() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(0.3)
        return ok()

    async with Script(answer) as server:
        upstream = pool(server.port, max_connections=2, pool_timeout=0.5)
        results = await asyncio.gather(*(fetch(upstream) for _ in range(4)), return_exceptions=True)
        assert all(result[2] == b"ok" for result in results if isinstance(result, tuple))
        assert server.connections == 2
        crowded = await asyncio.gather(*(fetch(upstream) for _ in range(8)), return_exceptions=True)
        assert any(isinstance(result, TimedOut) for result in crowded)
        assert (await fetch(upstream))[2] == b"ok"
        await upstream.aclose()


async def test_a_body_that_fails_while_sent_closes_the_connection() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok()

    class Refused(Exception):
        pass

    async def failing() -> AsyncIterator[bytes]:
        yield b"first"
        raise Refused

    async with Script(answer) as server:
        upstream = pool(server.port)
        await fetch(upstream)
        with pytest.raises(Refused):
            await upstream.request("POST", b"/x", [], failing(), content_length=False)
        assert (await fetch(upstream))[2] == b"ok"
        assert server.connections == 2
        await upstream.aclose()


async def test_a_connection_that_says_more_than_its_answer_is_not_used_again() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b"first") + b"HTTP/1.1 200 OK\r\ncontent-le" if server.connections == 1 else ok()

    async with Script(answer) as server:
        upstream = pool(server.port)
        assert (await fetch(upstream))[2] == b"first"
        await asyncio.sleep(0.05)
        assert (await fetch(upstream))[2] == b"ok"
        assert server.connections == 2
        await upstream.aclose()
