"""JSON logs through structlog; every line carries the request id of the request it belongs to (the system's, and
the caller's own as client_request_id when it sent one) and its W3C trace id (shared.tracing).

Our own lines go through structlog's filtering logger straight to stdout; the standard library's (uvicorn,
SQLAlchemy, …) through the root handler, rendered by the same processors, so that both look alike.
"""

import contextlib
import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

from shared.requestid import current_client_request_id, current_request_id
from shared.tracing import current_trace


def _add_request_id(_: Any, __: str, event_dict: EventDict) -> EventDict:
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
        client_request_id = current_client_request_id()
        if client_request_id is not None:
            event_dict.setdefault("client_request_id", client_request_id)
    trace = current_trace()
    if trace is not None:
        event_dict.setdefault("trace_id", trace.trace_id)
    return event_dict


class _StdoutLogger(structlog.WriteLogger):
    """structlog's write logger, which drops a line it cannot write (stdout closed or broken) as the standard
    library's handlers do, rather than failing the request that logged it."""

    def msg(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            super().msg(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _service_first(service: str) -> Processor:
    def add_service(_: Any, __: str, event_dict: EventDict) -> EventDict:
        return {"service": service, **event_dict}

    return add_service


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout from `level` up, naming `service`; calling it again replaces the configuration."""
    shared_processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _service_first(service), renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared_processors, _service_first(service), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(root.level),
        logger_factory=lambda *_: _StdoutLogger(sys.stdout),
        # Not cached: a logger made at import time follows a later configure_logging (a test's, a second app's).
        cache_logger_on_first_use=False,
    )
    # Python's warnings (a deprecation, a resource left open) as log lines, not plain text on stderr.
    logging.captureWarnings(True)
    # The access line is written by our middleware, with the request id; uvicorn's would lack it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every call at INFO; our own access lines already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's own lines (started, stopped, errors) go through the root handler, from LOG_LEVEL up like the rest.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(logging.NOTSET)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
