"""Captured signatures cannot be replayed (issue 19), and the request ids in audit rows are the system's own.

The capture is what an attacker on the internal network would see: a second gateway, with the stack's keys and
secret, sends its registry traffic to a recording server instead of the registry. The recorded headers are then
sent to the real registry, as they are and with another body, and to another service.
"""

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.run_local import uvicorn_command
from shared.settings import PROJECT_ROOT
from tests.e2e.conftest import Stack
from tests.registry.factories import enterprise
from tests.support import free_port, stop_process, wait_healthy

pytestmark = pytest.mark.e2e

API = "/api/v1/registry"
SYSTEM_ID = re.compile(r"^[0-9a-f]{32}$")
# Request headers a replay carries over (what the gateway adds; the connection's own are made afresh).
_CARRIED = ("x-principal-", "x-request-id", "x-client-request-id", "content-type")


@dataclass
class Recorder:
    """An HTTP server that answers 201 to every write and keeps what it was sent."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "Recorder":
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                recorder.requests.append((self.command, self.path, headers, body))
                # Reads (the gateway's health and spec probes) find nothing; every write is "created".
                answer = json.dumps({"status": "ok", "service": "registry"}).encode()
                self.send_response(404 if self.command == "GET" else 201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="module")
def capturing_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Recorder]]:
    """A gateway of the stack (same keys, same secret) whose registry is a recorder: (its URL, the recorder)."""
    recorder = Recorder().start()
    port = free_port()
    log = Path(tmp_path_factory.mktemp("capture")) / "gateway.log"
    env = {**stack.env, "GATEWAY_REGISTRY_URL": recorder.url}
    with log.open("ab") as handle:
        process = subprocess.Popen(
            uvicorn_command("gateway.main:create_app", "127.0.0.1", port),
            env=env, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, url, log)
        yield url, recorder
    finally:
        stop_process(process)
        recorder.stop()


def _captured_write(capturing_gateway: tuple[str, Recorder], key: str, body: dict[str, Any]) -> tuple[dict, bytes]:
    url, recorder = capturing_gateway
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30, trust_env=False) as c:
        assert c.post(f"{API}/enterprises", json=body, headers={"X-Request-ID": "mine-9"}).status_code == 201
    method, path, headers, sent = next(r for r in reversed(recorder.requests) if r[0] == "POST")
    assert (method, path) == ("POST", "/enterprises")
    return {name: value for name, value in headers.items() if name.startswith(_CARRIED)}, sent


def test_a_captured_write_is_accepted_once_and_only_as_it_was_signed(
    stack: Stack, capturing_gateway: tuple[str, Recorder], city: httpx.Client
) -> None:
    body = enterprise()
    headers, sent = _captured_write(capturing_gateway, stack.keys["city"], body)
    assert SYSTEM_ID.match(headers["x-request-id"]) and headers["x-principal-nonce"]
    registry = stack.url("registry")
    with httpx.Client(base_url=registry, timeout=30, trust_env=False) as direct:
        # The captured request reaches the registry once (the recorder kept the original from it)…
        first = direct.post("/enterprises", content=sent, headers=headers)
        assert first.status_code == 201, first.text

        # …and never again, however often it is sent, while a healthy caller is served as usual.
        def replay(_: int) -> int:
            return direct.post("/enterprises", content=sent, headers=headers).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:
            replays = pool.map(replay, range(40))
            started = time.perf_counter()
            read = city.get(f"{API}/districts")
            elapsed = time.perf_counter() - started
            statuses = list(replays)
        assert read.status_code == 200 and elapsed < 1.0, f"a normal read took {elapsed:.2f} s during the replays"
        assert set(statuses) == {401}
        again = direct.post("/enterprises", content=sent, headers=headers)
        assert "already used" in again.json()["detail"]

        # The same headers with another body (another enterprise) are refused outright.
        other = enterprise()
        altered = direct.post("/enterprises", content=json.dumps(other).encode(), headers=headers)
        assert altered.status_code == 401 and "not valid" in altered.json()["detail"]
    with httpx.Client(base_url=stack.url("eligibility"), timeout=30, trust_env=False) as elsewhere:
        assert elsewhere.post("/enterprises", content=sent, headers=headers).status_code == 401

    assert city.get(f"{API}/enterprises/{body['uscc']}").status_code == 200
    assert city.get(f"{API}/enterprises/{other['uscc']}").status_code == 404
    created = city.get(f"{API}/audit", params={"entity_type": "enterprise", "entity_id": body["uscc"]}).json()
    assert [entry["action"] for entry in created["items"]] == ["create"]


def test_audit_rows_keep_the_systems_id_and_the_callers_beside_it(city: httpx.Client) -> None:
    body = enterprise()
    created = city.post(f"{API}/enterprises", json=body, headers={"X-Request-ID": "mine-123"})
    assert created.status_code == 201 and created.headers["x-request-id"] == "mine-123"
    entries = city.get(f"{API}/audit", params={"entity_type": "enterprise", "entity_id": body["uscc"]}).json()
    entry = entries["items"][0]
    assert entry["client_request_id"] == "mine-123"
    assert SYSTEM_ID.match(entry["request_id"]), entry["request_id"]

    # A problem names the system's id (what the operators can find), the header the caller's own.
    refused = city.post(f"{API}/enterprises", json={"uscc": "bad"}, headers={"X-Request-ID": "mine-124"})
    assert refused.status_code == 422 and refused.headers["x-request-id"] == "mine-124"
    assert SYSTEM_ID.match(refused.json()["request_id"])
