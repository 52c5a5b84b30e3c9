"""JSON log lines, read from the process's stdout: our own (structlog's) and the standard library's look alike."""

import json
import logging

import pytest
import structlog

from shared.app import create_service_app
from shared.logging import configure_logging, get_logger
from shared.requestid import reset_request_id, set_request_id
from shared.settings import ServiceSettings

# Never connected to: making an app opens no connection.
TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/unused"


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_our_lines_and_foreign_lines_share_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    config = structlog.get_config()
    token = set_request_id("req-1")
    try:
        configure_logging("registry", "INFO")
        log = get_logger("test.logging")
        log.debug("hidden")
        logging.getLogger("test.foreign").debug("hidden too")
        log.info("request", method="GET", path="/districts", status=200, name="渝中区")
        logging.getLogger("test.foreign").warning("from %s", "the standard library")
        try:
            raise ValueError("boom")
        except ValueError as error:
            log.exception("unhandled error", exc_info=error)
        ours, foreign, failure = lines(capsys)
        assert list(ours) == [
            "service",
            "method",
            "path",
            "status",
            "name",
            "event",
            "request_id",
            "level",
            "timestamp",
        ]
        assert ours["service"] == "registry" and ours["name"] == "渝中区" and ours["level"] == "info"
        assert str(ours["timestamp"]).endswith("Z")
        assert {k: foreign[k] for k in ("service", "event", "request_id", "level")} == {
            "service": "registry",
            "event": "from the standard library",
            "request_id": "req-1",
            "level": "warning",
        }
        assert failure["level"] == "error" and "ValueError: boom" in str(failure["exception"])

        configure_logging("gateway", "DEBUG")  # configured again: the new service name and level hold at once
        log.debug("shown now")
        (shown,) = lines(capsys)
        assert (shown["service"], shown["event"], shown["level"]) == ("gateway", "shown now", "debug")
    finally:
        reset_request_id(token)
        root.handlers, root.level = handlers, level
        structlog.configure(**config)


def test_uvicorns_own_lines_are_json_once_the_app_is_made(capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn calls the app factory before it logs "Started server process": the factory configures the logs.
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    config = structlog.get_config()
    try:
        settings = ServiceSettings(service_name="probe", database_url=TEST_DATABASE_URL, environment="test")
        create_service_app(settings=settings, title="probe", version="0", description="", routers=[])
        logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
        (started,) = lines(capsys)
        assert (started["service"], started["event"], started["level"]) == (
            "probe",
            "Started server process [42]",
            "info",
        )
    finally:
        root.handlers, root.level = handlers, level
        structlog.configure(**config)
