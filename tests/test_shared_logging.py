"""JSON log lines, read from the process's stdout: our own (structlog's) and the standard library's look alike, each
with the request's ids and trace id; and in a real uvicorn process every line is JSON, from its first to its last."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings

import httpx
import pytest
import structlog

from deploy.local_postgres import free_port
from shared.app import create_service_app
from shared.logging import configure_logging, get_logger
from shared.requestid import reset_request_id, set_request_id
from shared.settings import PROJECT_ROOT, ServiceSettings
from shared.tracing import TraceContext, reset_trace, set_trace
from tests.support import TestDatabase

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


def test_every_line_of_a_request_carries_its_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    config = structlog.get_config()
    token = set_request_id("req-2", "mine")
    trace = set_trace(TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
    logging.captureWarnings(False)  # an earlier configuration's capture: pytest has put its own in its place since
    try:
        configure_logging("registry", "INFO")
        get_logger("test.logging").info("ours")
        logging.getLogger("test.foreign").warning("foreign")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a warning", UserWarning, stacklevel=1)  # through logging, not plain text on stderr
        reset_trace(trace)
        get_logger("test.logging").info("after the request")
        captured = capsys.readouterr()
        ours, foreign, warned, after = lines_of(captured.out)
        for line in (ours, foreign, warned):
            assert (line["request_id"], line["client_request_id"], line["trace_id"]) == (
                "req-2",
                "mine",
                "4bf92f3577b34da6a3ce929d0e0e4736",
            )
        assert "UserWarning: a warning" in str(warned["event"]) and captured.err == ""
        assert "trace_id" not in after
    finally:
        reset_request_id(token)
        logging.captureWarnings(False)
        root.handlers, root.level = handlers, level
        structlog.configure(**config)


def lines_of(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def uvicorn(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "services.registry.main:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--no-proxy-headers", "--http", "shared.server:BoundedHttpToolsProtocol",
    ]  # fmt: skip
    clean = {key: value for key, value in os.environ.items() if not key.startswith("REGISTRY_")}
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def every_line_json(output: bytes) -> list[dict[str, object]]:
    parsed = lines_of(output.decode())
    assert all(line["service"] == "registry" for line in parsed)
    return parsed


def test_a_uvicorn_process_writes_json_only_from_start_to_shutdown() -> None:
    database = TestDatabase("registry", PROJECT_ROOT / "services" / "registry")
    database.create()
    try:
        port = free_port()
        process = uvicorn({"REGISTRY_DATABASE_URL": database.url, "REGISTRY_ENVIRONMENT": "test"}, port)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        database.drop()
    assert err == b""
    events = [str(line["event"]) for line in every_line_json(out)]
    assert events[0].startswith("Started server process") and events[-1].startswith("Finished server process")
    assert "request" in events and "Application shutdown complete." in events


def test_a_factory_that_fails_before_configuring_the_logs_still_writes_json() -> None:
    # No database URL: the settings refuse before the factory could configure anything.
    process = uvicorn({}, free_port())
    out, err = process.communicate(timeout=30)
    assert process.returncode != 0
    (failure,) = every_line_json(out + err)
    assert (failure["level"], failure["event"]) == ("critical", "the process failed")
    assert "no database URL for registry: set REGISTRY_DATABASE_URL" in str(failure["exception"])
