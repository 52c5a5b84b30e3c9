"""Request ids: the system's own (made by the gateway, carried to every service under the principal's signature),
and the caller's (accepted only if short and plain, kept beside it for the caller's correlation), each in a
context variable for logs, problems and audit rows."""

import re
import uuid
from contextvars import ContextVar, Token

REQUEST_ID_HEADER = "X-Request-ID"
# The caller's own X-Request-ID, as the gateway passes it on to the services.
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-ID"
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_client_request_id: ContextVar[str | None] = ContextVar("client_request_id", default=None)
# A caller's id is kept only if it is short and plain, so it cannot inject into logs or headers.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str | None:
    """The system's id of the request being served."""
    return _request_id.get()


def current_client_request_id() -> str | None:
    """The id the caller sent, if it sent an acceptable one."""
    return _client_request_id.get()


def acceptable(candidate: str | None) -> str | None:
    """`candidate` if it may be kept as a caller's id, else None."""
    return candidate if candidate and _ACCEPTABLE_ID.match(candidate) else None


def make_request_id() -> str:
    return uuid.uuid4().hex


RequestIdToken = tuple[Token[str | None], Token[str | None]]


def set_request_id(value: str, client_value: str | None = None) -> RequestIdToken:
    """The system's id (and the caller's, if any) for what runs from here on; undone by reset_request_id."""
    return (_request_id.set(value), _client_request_id.set(client_value))


def reset_request_id(token: RequestIdToken) -> None:
    request_token, client_token = token
    _request_id.reset(request_token)
    _client_request_id.reset(client_token)
