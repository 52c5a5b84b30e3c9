"""JSON log lines: our own (written directly) and the standard library's (through the formatter) look alike."""

import json
import logging

import pytest
import structlog

from shared.logging import _Output, configure_logging, get_logger
from shared.requestid import reset_request_id, set_request_id


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_our_lines_and_foreign_lines_share_one_format(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    output = (_Output.service, _Output.level, _Output.handler)
    config = structlog.get_config()
    token = set_request_id("req-1")
    try:
        configure_logging("registry", "INFO")
        log = get_logger("test.logging")
        log.debug("hidden")
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
        _Output.service, _Output.level, _Output.handler = output
        structlog.configure(**config)
