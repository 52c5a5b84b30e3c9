"""A lean Redis client for the rate limiter's one hot command: pipelined RESP2 on one asyncio connection.

Every request through the gateway runs the token-bucket script once. redis-py's asyncio client (connection pool,
command and retry layers, a parser in Python) costs several times more CPU per call than the exchange itself;
here a call is one write and one parsed reply, and concurrent calls share the connection, their replies
matched in order. Only plain `redis://` and `unix://` URLs with host, port, database, user and password are
handled (`lean_client` says None for anything else, and the limiter keeps redis-py). Failures are raised as
redis-py's own exceptions, so that callers treat both clients alike.
"""

import asyncio
from collections import deque
from typing import Any

from redis.asyncio.connection import UnixDomainSocketConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_SUPPORTED = frozenset({"host", "port", "db", "username", "password", "path", "connection_class"})
_CRLF = b"\r\n"


class _Incomplete(Exception):
    pass


def _parse(buffer: bytearray, start: int) -> tuple[Any, int]:
    """One reply from `buffer` at `start`: (value, where the next one starts); _Incomplete if it is not all there."""
    end = buffer.find(_CRLF, start)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[start], bytes(buffer[start + 1 : end])
    position = end + 2
    if kind == 0x3A:  # ':' integer
        return int(line), position
    if kind == 0x2B:  # '+' simple string
        return line, position
    if kind == 0x2D:  # '-' error
        return ResponseError(line.decode("utf-8", "replace")), position
    if kind == 0x24:  # '$' bulk string
        length = int(line)
        if length < 0:
            return None, position
        if len(buffer) < position + length + 2:
            raise _Incomplete
        return bytes(buffer[position : position + length]), position + length + 2
    if kind == 0x2A:  # '*' array
        count = int(line)
        if count < 0:
            return None, position
        items = []
        for _ in range(count):
            item, position = _parse(buffer, position)
            items.append(item)
        return items, position
    raise RedisConnectionError(f"unexpected reply from Redis: {bytes(buffer[start : end + 2])[:60]!r}")


def _pack(args: tuple[bytes, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        position = 0
        try:
            while self.pending:
                try:
                    value, position = _parse(self.buffer, position)
                except _Incomplete:
                    break
                waiter = self.pending.popleft()
                if not waiter.done():  # a caller that gave up still had its reply in the stream
                    waiter.set_result(value)
        except RedisConnectionError as error:
            self.close(error)
            return
        del self.buffer[:position]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = RedisConnectionError(f"Connection closed by server{f': {exc}' if exc else '.'}")
        while self.pending:
            waiter = self.pending.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    def close(self, error: Exception | None = None) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()
        self.connection_lost(error)


class LeanRedis:
    """One pipelined connection, made when first needed and again after it fails."""

    def __init__(self, connect_kwargs: dict[str, Any], *, timeout: float) -> None:
        self.kwargs = connect_kwargs
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *args: bytes) -> Any:
        """The reply to one command; a Redis error reply is raised as ResponseError."""
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._connect()
        return await self._send(protocol, args)

    async def _send(self, protocol: _Protocol, args: tuple[bytes, ...]) -> Any:
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        protocol.pending.append(waiter)
        assert protocol.transport is not None
        protocol.transport.write(_pack(args))
        try:
            async with asyncio.timeout(self.timeout):
                value = await waiter
        except TimeoutError:
            # Redis did not answer in time: the connection is not trusted again (as redis-py disconnects).
            protocol.close(RedisTimeoutError("Timeout reading from Redis"))
            raise RedisTimeoutError("Timeout reading from Redis") from None
        if isinstance(value, ResponseError):
            raise value
        return value

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and not protocol.lost:
                return protocol
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(self.timeout):
                    if "path" in self.kwargs:
                        _, protocol = await loop.create_unix_connection(_Protocol, self.kwargs["path"])
                    else:
                        _, protocol = await loop.create_connection(
                            _Protocol, self.kwargs.get("host", "localhost"), self.kwargs.get("port", 6379)
                        )
            except TimeoutError:
                raise RedisTimeoutError("Timeout connecting to Redis") from None
            except OSError as error:
                raise RedisConnectionError(f"Error connecting to Redis: {error}") from error
            try:
                password = self.kwargs.get("password")
                if password is not None:
                    username = self.kwargs.get("username")
                    auth = (username.encode(), password.encode()) if username else (password.encode(),)
                    await self._send(protocol, (b"AUTH", *auth))
                if self.kwargs.get("db"):
                    await self._send(protocol, (b"SELECT", str(self.kwargs["db"]).encode()))
            except BaseException:
                protocol.close()
                raise
            self._protocol = protocol
            return protocol

    async def close(self) -> None:
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None


def lean_client(url: str, *, timeout: float) -> LeanRedis | None:
    """A LeanRedis for `url`, or None when the URL asks for something it does not do (TLS, URL options)."""
    kwargs: dict[str, Any] = dict(parse_url(url))
    connection_class = kwargs.get("connection_class")
    if not set(kwargs) <= _SUPPORTED or connection_class not in (None, UnixDomainSocketConnection):
        return None
    return LeanRedis(kwargs, timeout=timeout)
