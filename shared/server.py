"""uvicorn's httptools protocol with bounded request heads: `uvicorn --http shared.server:BoundedHttpToolsProtocol`.

uvicorn (0.54) with httptools puts no limit on the request line, the header block or the number of headers, and
no timeout on receiving a request head: httptools accumulates a header of any size in memory (one 100 MB header
grew a process by 200 MB), forwards 400,000 headers, and a connection that sends half a head, or nothing, stays
open for ever (the keep-alive timeout only starts after a first answer). h11's `h11_max_incomplete_event_size`
answers 400, not 431, and h11 costs the gateway far more CPU per request. This subclass adds, per process, from
`HTTP_*` settings:

- a request target longer than `HTTP_MAX_REQUEST_LINE_BYTES` → 414;
- a head (request line and headers) larger than `HTTP_MAX_HEAD_BYTES`, or more than `HTTP_MAX_HEADERS`
  headers → 431;
- a head not complete within `HTTP_HEAD_TIMEOUT_SECONDS` of a fresh connection or of its first byte on a
  kept-alive one → 408 (or, if nothing of it arrived, the connection is just closed);
- trailer fields after a chunked body, or more than `HTTP_MAX_HEAD_BYTES` between two pieces of a body (trailers on
  their way, which httptools buffers whole) → the connection is closed (none of this API's callers sends trailers;
  uvicorn would add them to the request's headers after the app has read these, and the app has the request);
- a request answered before its body was read (a refusal) may send the rest of it for `HTTP_HEAD_TIMEOUT_SECONDS`
  at most; then the connection is closed (uvicorn would keep it open for as long as the body trickles).

Bytes are counted before the parser sees them, so no more than the limit is ever buffered. Each refusal is a
problem+json answer with its own request id, followed by closing the connection.

uvicorn's command line imports this module before it calls the app factory (which configures the logs): from that
import on, what uvicorn or Python prints is JSON too (`json_logs_before_the_factory`), a factory that fails on a
missing setting included.
"""

import asyncio
import json
import logging
import os
import re
import sys
from asyncio import TimerHandle
from functools import cache
from types import TracebackType
from typing import Any

import httptools
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.logging import configure_logging, get_logger
from shared.requestid import make_request_id

logger = get_logger("server")

# The app argument of a launch command (`services.registry.main:create_app`, `gateway.main:create_app`).
_APP_ARGUMENT = re.compile(r"^(?:services\.(\w+)|(gateway))\.[\w.]*:\w+$")


def _launched_by_uvicorn() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return getattr(spec, "name", None) == "uvicorn.__main__" or os.path.basename(sys.argv[0]) == "uvicorn"


def _component(argv: list[str]) -> str:
    """The component a launch command serves, named as its settings name it; "server" if none is recognised."""
    for argument in argv:
        match = _APP_ARGUMENT.match(argument)
        if match is not None:
            return match.group(1) or match.group(2)
    return "server"


def _log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("uvicorn.error").critical("the process failed", exc_info=(kind, error, traceback))


def json_logs_before_the_factory() -> None:
    """Between uvicorn's start and the factory's own configuration, uvicorn's plain-text handlers would print (its
    "Error loading ASGI app", a factory's traceback on stderr): JSON lines instead, from LOG_LEVEL (INFO) up, naming
    the component; the factory then configures the same with its settings."""
    configure_logging(_component(sys.argv), os.environ.get("LOG_LEVEL", "INFO"))
    sys.excepthook = _log_uncaught


if _launched_by_uvicorn():
    json_logs_before_the_factory()


class HttpServerSettings(BaseSettings):
    """Bounds on request heads, the same for the gateway and every service (env prefix `HTTP_`)."""

    model_config = SettingsConfigDict(env_prefix="HTTP_", extra="ignore")

    max_request_line_bytes: int = Field(default=8 * 1024, ge=256, le=1024 * 1024)
    max_head_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_headers: int = Field(default=100, ge=8, le=10_000)
    head_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _line_within_the_head(self) -> "HttpServerSettings":
        if self.max_request_line_bytes > self.max_head_bytes:
            raise ValueError("HTTP_MAX_REQUEST_LINE_BYTES may not exceed HTTP_MAX_HEAD_BYTES (the line is in the head)")
        return self


@cache
def server_settings() -> HttpServerSettings:
    return HttpServerSettings()


class _Refusal(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers `status`."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


_TITLES = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
_SLUGS = {400: "bad-request", 408: "request-timeout", 414: "uri-too-long", 431: "request-header-fields-too-large"}


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = server_settings()
        self._head_bytes = 0  # bytes of the head being received
        self._reading_head = True  # between the end of one head (or none) and the next
        self._header_count = 0
        self._since_body = 0  # bytes received in a body's phase since its last piece of body (chunk sizes, trailers)
        self._head_timer: TimerHandle | None = None
        self._refusal: _Refusal | None = None

    # -- the head timer ----------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # a fresh connection must send a whole head in time, even if it sends nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        # A pipelined head waits for the answer before it: its clock starts once that answer is sent.
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._head_timer = self.loop.call_later(self.limits.head_timeout_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()  # nothing of a request arrived: nothing to answer
            return
        self._refuse(
            _Refusal(408, f"The request head did not arrive within {self.limits.head_timeout_seconds:g} seconds.")
        )

    # -- counting what arrives -----------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        while data and not self.transport.is_closing():
            if not self._reading_head:
                self._since_body += len(data)
                self._feed(data)  # each piece of body sets the count back (on_body); a finished message too
                if self._since_body > self.limits.max_head_bytes and not self.transport.is_closing():
                    self._refuse(
                        _Refusal(431, f"The request's trailer is larger than {self.limits.max_head_bytes} bytes.")
                    )
                return
            self._arm_head_timer()  # the first byte of a head on a kept-alive connection starts its clock
            room = self.limits.max_head_bytes - self._head_bytes
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            self._feed(piece)
            if data and self._reading_head and self._head_bytes >= self.limits.max_head_bytes:
                self._refuse(_Refusal(431, f"The request head is larger than {self.limits.max_head_bytes} bytes."))
                return

    def _feed(self, data: bytes) -> None:
        """uvicorn's data_received, with the refusals raised by the callbacks below answered as such."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")

    # -- parser callbacks ----------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line_bytes:
            self._refusal = _Refusal(
                414, f"The request target is longer than {self.limits.max_request_line_bytes} bytes."
            )
            raise self._refusal

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._reading_head:
            self._refusal = _Refusal(400, "Trailer fields are not accepted after a request's body.")
            raise self._refusal
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = _Refusal(431, f"The request has more than {self.limits.max_headers} headers.")
            raise self._refusal
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._since_body = 0
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # whatever follows is the next request's head
        self._head_bytes = 0
        self._since_body = 0
        if self.cycle is not None and self.cycle.response_complete:
            # The body of a request answered early has ended in time: the next head has its usual time.
            self._cancel_head_timer()
            self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if not self._reading_head and self.cycle is not None and self.cycle.response_complete:
            # Answered before its body was read: the rest of the body is thrown away as it comes, for no longer than
            # a head may take, and uvicorn's keep-alive timer stops at its first byte, so this one closes.
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(self.limits.head_timeout_seconds, self._unread_body_timed_out)
        elif self._reading_head and self._head_bytes:
            self._arm_head_timer()  # part of the next head came while this answer was being made

    def _unread_body_timed_out(self) -> None:
        self._head_timer = None
        logger.info("unread body timed out", client=self.client[0] if self.client else None)
        self.transport.close()

    # -- answering -----------------------------------------------------------------------------------------------

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer the refusal and close the connection; only close it when the refusal comes after the head (the app
        has the request and answers it, or has) or an earlier request's answer is under way."""
        self._cancel_head_timer()
        client = f"{self.client[0]}" if self.client else None
        logger.info("request refused", status=refusal.status, detail=refusal.detail, client=client)
        if not self._reading_head or (self.cycle is not None and not self.cycle.response_complete):
            self.transport.close()  # nothing can be written in between
            return
        request_id = make_request_id()
        body = json.dumps(
            {
                "type": f"/problems/{_SLUGS[refusal.status]}",
                "title": _TITLES[refusal.status],
                "status": refusal.status,
                "detail": refusal.detail,
                "request_id": request_id,
            }
        ).encode()
        content = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"x-request-id: " + request_id.encode() + b"\r\n",
                b"x-content-type-options: nosniff\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
