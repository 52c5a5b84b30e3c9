"""JSON logs through structlog; every line carries the request id of the request it belongs to (the system's, and
the caller's own as client_request_id when it sent one)."""

import logging
import sys
from contextlib import nullcontext
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict

from shared.requestid import current_client_request_id, current_request_id

_LEVELS = {"critical": 50, "exception": 40, "error": 40, "warn": 30, "warning": 30, "info": 20, "debug": 10}


class _Output:
    """Where our own lines go and from which level, set by configure_logging (and changed by calling it again)."""

    service = ""
    level = logging.INFO
    handler: logging.StreamHandler[TextIO] | None = None


def _below_level(_: Any, method_name: str, event_dict: EventDict) -> EventDict:
    if _LEVELS.get(method_name, logging.INFO) < _Output.level:
        raise structlog.DropEvent
    return event_dict


def _with_service(_: Any, __: str, event_dict: EventDict) -> EventDict:
    return {"service": _Output.service, **event_dict}


class _LineWriter:
    """Writes a rendered line straight to the root handler's stream, under its lock, flushed at once.

    structlog's own lines skip the standard library's LogRecord, handler and formatter machinery (the bulk of a
    log call's cost) yet come out exactly as the formatter would write them; foreign lines still take that way.
    """

    def _write(self, line: str) -> None:
        handler = _Output.handler
        if handler is None:
            return
        try:
            with handler.lock or nullcontext():
                handler.stream.write(line + "\n")
                handler.stream.flush()
        except Exception:  # as the standard library's handlers do: a line that cannot be written fails nothing else
            handler.handleError(logging.makeLogRecord({"msg": line}))

    msg = debug = info = warning = warn = error = critical = exception = fatal = log = _write


_WRITER = _LineWriter()


def _add_request_id(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
        client_request_id = current_client_request_id()
        if client_request_id is not None:
            event_dict.setdefault("client_request_id", client_request_id)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _with_service, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    _Output.service = service
    _Output.level = root.level
    _Output.handler = handler
    # Our own lines: the same processors and rendering as the formatter applies, written directly (see _LineWriter).
    structlog.configure(
        processors=[_below_level, *shared_processors, _with_service, renderer],
        logger_factory=lambda *_: _WRITER,
        cache_logger_on_first_use=True,
    )
    # The access line is written by our middleware, with the request id; uvicorn's would lack it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every call at INFO; our own access lines already say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
