"""The request id: accepted from the caller or made, kept in a context variable for logs and problems."""

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# A caller's id is echoed only if it is short and plain, so it cannot inject into logs or headers.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def accept_or_make(candidate: str | None) -> str:
    if candidate and _ACCEPTABLE_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


def set_request_id(value: str) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]
