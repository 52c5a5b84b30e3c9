"""HTTP/1.1 to the services for the proxy: pooled keep-alive connections on asyncio protocols, parsed by httptools.

The proxy needs a small part of HTTP: one exchange at a time per connection, the request body streamed up, the
response streamed back, keep-alive and explicit timeouts. httpx does all of that and much more, and its layers
(httpx, httpcore, h11, anyio) cost the gateway more CPU per proxied request than everything else it does; httpx
still serves the gateway's own calls (readiness probes, OpenAPI documents). Header values pass through as the
bytes they arrived as.

Failures are raised as the exceptions below, which the proxy maps onto its problems as it did for httpx's:
ConnectTimedOut ≈ httpx.ConnectTimeout, TimedOut ≈ the other httpx timeouts (read, write, pool), ConnectFailed ≈
httpx.ConnectError, ConnectionBroken ≈ httpx.RemoteProtocolError/ReadError/WriteError, ProtocolFailure ≈ any
other httpx.HTTPError.
"""

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import cast

import httptools

# The services (uvicorn) close a keep-alive connection after 5 idle seconds; one idle for this long is not
# reused, so that a request is not sent on a connection the service is closing.
IDLE_EXPIRY_SECONDS = 4.0
# Response bytes buffered before the service is asked to wait (a slow caller must not make the gateway hoard).
_READ_HIGH_WATER = 256 * 1024
_CRLF = b"\r\n"


class UpstreamError(Exception):
    pass


class ConnectFailed(UpstreamError):
    """No connection could be made (refused, unreachable)."""


class ConnectTimedOut(UpstreamError):
    pass


class TimedOut(UpstreamError):
    """No free connection in time, or the service took too long to take the request or to answer."""


class PoolExhausted(TimedOut):
    """Every connection to the upstream stayed in use for the pool timeout."""


class WriteTimedOut(TimedOut):
    """The service did not take the request (its body) within the write timeout."""


class ConnectionBroken(UpstreamError):
    """The connection closed or failed in the middle of the exchange."""


class ProtocolFailure(UpstreamError):
    """The service's answer is not valid HTTP/1.1."""


class _Connection(asyncio.Protocol):
    """One connection to the service; the pool hands it to one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.lost = False
        self.idle_since = time.monotonic()
        self._error: BaseException | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused_writing = False
        self._reading_paused = False
        self._wakeup: asyncio.Future[None] | None = None
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_complete = False
        self.message_complete = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.head_only = False
        self.until_close = False
        self.keep_alive = False

    # -- asyncio.Protocol ------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        if self.message_complete:  # nothing is due after a complete answer: this connection is not trusted again
            self._fail(ConnectionBroken("data after the end of the answer"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ProtocolFailure(f"invalid response: {error}"))
            return
        if self.buffered > _READ_HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if exc is None and self.until_close and self.headers_complete and not self.message_complete:
            self.message_complete = True  # a body delimited by the end of the connection
        elif not self.message_complete:
            self._error = self._error or ConnectionBroken(
                f"the connection closed before the answer was complete{f': {exc}' if exc else ''}"
            )
        if self._writable is not None and not self._writable.done():
            self._writable.set_exception(ConnectionBroken("the connection closed while sending"))
        self._wake()

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.message_complete:  # more than the answer in the same read: stops the parser (see data_received)
            raise ConnectionBroken("data after the end of the answer")
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            return
        self.status = status
        self.headers_complete = True
        self.keep_alive = self.parser.should_keep_alive()  # only known while the message is being parsed
        names = {name.lower() for name, _ in self.headers}
        self.until_close = (
            b"content-length" not in names and b"transfer-encoding" not in names and status not in (204, 304)
        )
        if self.head_only:
            # httptools cannot be told that a HEAD answer has no body: end it here and never reuse the connection.
            self.message_complete = True
            self.lost = True
            if self.transport is not None:
                self.transport.close()

    def on_body(self, body: bytes) -> None:
        if self.head_only:
            return
        self.body.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        if self.headers_complete:
            self.message_complete = True

    # -- the exchange ----------------------------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        self._error = self._error or error
        self.lost = True
        if self.transport is not None:
            self.transport.abort()
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _wait(self, seconds: float | None, what: str) -> None:
        """Until the protocol has news (data, the end, an error)."""
        self._wakeup = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup
        except TimeoutError:
            raise TimedOut(f"no {what} within {seconds} seconds") from None
        finally:
            self._wakeup = None

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self.lost or self.transport is None or self.transport.is_closing():
            raise ConnectionBroken("the connection is closed")
        self.transport.write(data)

    async def drain(self, seconds: float | None) -> None:
        if not self._paused_writing:
            return
        self._writable = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(seconds):
                await self._writable
        except TimeoutError:
            raise WriteTimedOut(f"the request was not taken within {seconds} seconds") from None
        finally:
            self._writable = None

    async def read_head(self, seconds: float | None) -> None:
        while not self.headers_complete:
            if self._error is not None:
                raise self._error
            if self.lost:
                raise ConnectionBroken("the connection closed before an answer")
            await self._wait(seconds, "answer")

    async def read_body(self, seconds: float | None) -> bytes | None:
        """The next piece of the body, or None at its end."""
        while True:
            if self.body:
                chunk = b"".join(self.body)
                self.body.clear()
                self.buffered = 0
                if self._reading_paused and self.transport is not None and not self.lost:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return chunk
            if self.message_complete:
                return None
            if self._error is not None:
                raise self._error
            if self.lost:
                raise ConnectionBroken("the connection closed in the middle of the answer")
            await self._wait(seconds, "data")

    @property
    def reusable(self) -> bool:
        return (
            self.message_complete
            and not self.lost
            and self._error is None
            and self.keep_alive
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def start_exchange(self, head_only: bool) -> None:
        self._reset_exchange()
        self.head_only = head_only

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class UpstreamResponse:
    """The status and headers of an answer; its body is read with `chunks()`; `aclose()` must follow."""

    def __init__(self, pool: "UpstreamPool", connection: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._read_timeout = read_timeout
        self.status_code = connection.status
        self.headers = connection.headers

    async def chunks(self) -> AsyncIterator[tuple[bytes, bool]]:
        """The body, as the pieces that have arrived, each with whether more follows (the last may be empty)."""
        connection = self._connection
        assert connection is not None
        while True:
            chunk = await connection.read_body(self._read_timeout)
            if chunk is None:
                yield b"", False
                return
            more = not connection.message_complete
            yield chunk, more
            if not more:
                return

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.release(connection)


class UpstreamPool:
    """Connections to one service: at most `max_connections` at once, `max_keepalive` of them kept when idle."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        max_connections: int,
        max_keepalive: int,
        connect_timeout: float | None,
        read_timeout: float | None,
        write_timeout: float | None,
        pool_timeout: float | None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = ssl.create_default_context() if tls else None
        name = f"[{host}]".encode() if ":" in host else host.encode("idna")  # an IPv6 address is bracketed
        self.authority = name + (b"" if port == (443 if tls else 80) else b":%d" % port)
        self.max_connections = max_connections
        self.max_keepalive = max_keepalive
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.pool_timeout = pool_timeout
        self._idle: list[_Connection] = []
        self._in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def request(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: AsyncIterator[bytes] | None,
        *,
        content_length: bool,
    ) -> UpstreamResponse:
        """Send one request (the body streamed from `body`) and wait for the answer's status and headers.

        Without `content_length` among the headers, a body is sent chunked. Exceptions raised by `body` propagate
        unchanged (the connection is then closed); so does cancellation.
        """
        first = b""
        if body is not None:
            # The head and the first piece of the body (often all of it) leave in one write.
            first = await anext(body, b"")
        connection = await self._acquire()
        try:
            connection.start_exchange(head_only=method == "HEAD")
            head = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nhost: ", self.authority, _CRLF]
            for name, value in headers:
                head += (name, b": ", value, _CRLF)
            chunked = body is not None and not content_length
            if chunked:
                head.append(b"transfer-encoding: chunked\r\n")
            head.append(_CRLF)
            if first:
                head.append(b"%x\r\n%s\r\n" % (len(first), first) if chunked else first)
            connection.write(b"".join(head))
            if body is not None:
                await connection.drain(self.write_timeout)
                async for chunk in body:
                    if chunk:
                        connection.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                        await connection.drain(self.write_timeout)
                if chunked:
                    connection.write(b"0\r\n\r\n")
            await connection.read_head(self.read_timeout)
        except BaseException:
            connection.close()
            self.release(connection)
            raise
        return UpstreamResponse(self, connection, self.read_timeout)

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise ConnectionBroken("the gateway is shutting down")
        if self._in_use >= self.max_connections:
            try:
                async with asyncio.timeout(self.pool_timeout):
                    while self._in_use >= self.max_connections:
                        await self._wait_for_slot()
            except TimeoutError:
                raise PoolExhausted(f"no free connection within {self.pool_timeout} seconds") from None
        self._in_use += 1
        try:
            now = time.monotonic()
            while self._idle:
                connection = self._idle.pop()
                if not connection.lost and now - connection.idle_since < IDLE_EXPIRY_SECONDS:
                    return connection
                connection.close()
            return await self._connect()
        except BaseException:
            self._in_use -= 1
            self._wake_waiter()
            raise

    async def _wait_for_slot(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._wake_waiter()  # the slot this waiter was woken for goes to the next one
            raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(_Connection, self.host, self.port, ssl=self.tls)
        except TimeoutError:
            raise ConnectTimedOut(f"no connection within {self.connect_timeout} seconds") from None
        except OSError as error:
            raise ConnectFailed(str(error)) from error
        return connection

    def release(self, connection: _Connection) -> None:
        """Give a connection back after an exchange: kept for the next one if it can be, closed otherwise."""
        self._in_use -= 1
        if connection.reusable and not self._closed and len(self._idle) < self.max_keepalive:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        self._wake_waiter()

    def _wake_waiter(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
