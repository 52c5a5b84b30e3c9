"""Attacks on the front door (issue 19), against real processes on the loopback, each bounded in count and time,
each with a healthy caller who must stay served while it runs (a normal read under 1 s, generous margins):

- a 100 MB header, 400,000 headers, a 20 KB request target: refused (431, 431, 414) by the gateway and by a
  service, at once, without the process growing by more than a few MB;
- 300 half-sent request heads and 100 silent connections: all closed after the head timeout (408 for the ones
  that sent something);
- one client holding as many requests as it may: its next one is a 429, another client is served;
- a fresh X-Forwarded-For per request from an untrusted peer: still one address, its bucket runs dry; from a
  trusted proxy, it does name the client;
- 300 wrong keys in a row: throttled after 10, and a valid key from another address stays served;
- what a caller reads back through the front door (issue 14): a service's problem names the path the caller called,
  a 405 names the methods the path has, and a browser may read the headers it needs (CORS);
- a request answered before its body, whose body then trickles: the connection is closed after the head timeout;
- trailer fields after a chunked body, or an endless one: the connection ends, the process does not grow.

Loopback addresses tell the callers apart (Linux answers all of 127.0.0.0/8): 127.0.0.2 is the trusted proxy,
each attack comes from an address of its own, the healthy caller from 127.0.0.1.
"""

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from deploy.run_local import uvicorn_command
from shared.settings import PROJECT_ROOT
from tests.stack import Stack, launch_stack

pytestmark = pytest.mark.e2e

HEAD_TIMEOUT = 2.0
MAX_CONCURRENT = 4
TRUSTED_PROXY = "127.0.0.2"
HEALTHY_SECONDS = 1.0
ANONYMOUS_BURST = 20
BROWSER_ORIGIN = "https://screens.cq.example"


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    env = {
        "GATEWAY_REDIS_URL": "",  # in-process buckets: nothing shared with other stacks on this machine's Redis
        "HTTP_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
        "GATEWAY_MAX_CONCURRENT_PER_CLIENT": str(MAX_CONCURRENT),
        "GATEWAY_TRUSTED_PROXIES": TRUSTED_PROXY,
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": str(ANONYMOUS_BURST),
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "0.05",
        "GATEWAY_AUTH_FAILURE_BURST": "10",
        "GATEWAY_AUTH_FAILURE_PER_SECOND": "0.1",
        "GATEWAY_CORS_ORIGINS": BROWSER_ORIGIN,
    }
    with launch_stack(tmp_path_factory.mktemp("front-door-logs"), env, services=["registry"]) as stack:
        yield stack


LAUNCHERS = [
    PROJECT_ROOT / "Dockerfile",
    PROJECT_ROOT / "docker-compose.yml",
    *sorted((PROJECT_ROOT / "deploy" / "k8s").glob("*.yaml")),
]
BOUNDED = "shared.server:BoundedHttpToolsProtocol"


def test_every_way_of_starting_a_server_bounds_heads_and_leaves_forwarding_to_the_gateway() -> None:
    command = uvicorn_command("x:y", "127.0.0.1", 1)
    assert command[command.index("--http") + 1] == BOUNDED and "--no-proxy-headers" in command
    commands = 0
    for launcher in LAUNCHERS:
        for line in launcher.read_text().splitlines():
            if "uvicorn" in line and ("CMD" in line or "command" in line):
                commands += 1
                assert BOUNDED in line and "--no-proxy-headers" in line, f"{launcher.name}: {line.strip()}"
                assert "--proxy-headers" not in line.replace("--no-proxy-headers", "")
    # The Dockerfile's, docker-compose's six and the six Kubernetes manifests' (the workers serve no HTTP).
    assert commands == 13, f"{commands} uvicorn commands found in {[p.name for p in LAUNCHERS]}"


def _address(stack: Stack, name: str) -> tuple[str, int]:
    parts = urlsplit(stack.url(name))
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _connect(stack: Stack, name: str, source: str) -> socket.socket:
    connection = socket.create_connection(_address(stack, name), timeout=10, source_address=(source, 0))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset after its answer counts as the close)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _send_head(stack: Stack, name: str, source: str, head: bytes, then: bytes = b"", repeat: int = 0) -> bytes:
    """Send `head`, then `then` `repeat` times (stopping when the server hangs up), and return its answer."""
    with closing(_connect(stack, name, source)) as connection:
        try:
            connection.sendall(head)
            for _ in range(repeat):
                connection.sendall(then)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _answer(connection)


def _rss_kib(stack: Stack, name: str) -> int:
    popen = stack.processes[name].popen
    assert popen is not None
    for line in Path(f"/proc/{popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Healthy:
    """A normal caller reading the registry through the gateway in a loop, timing each answer."""

    def __init__(self, stack: Stack) -> None:
        self.client = httpx.Client(base_url=stack.gateway, timeout=30, trust_env=False)
        self.headers = {"Authorization": f"Bearer {stack.keys['city']}"}
        self.samples: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> tuple[int, float]:
        started = time.perf_counter()
        status = self.client.get("/api/v1/registry/districts", headers=self.headers).status_code
        return status, time.perf_counter() - started

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.read())
            time.sleep(0.05)

    def __enter__(self) -> "Healthy":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()
        assert self.samples, "the healthy caller made no request"
        slowest = max(seconds for _, seconds in self.samples)
        assert all(status == 200 for status, _ in self.samples), self.samples
        assert slowest < HEALTHY_SECONDS, f"a normal read took {slowest:.2f} s during the attack"


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


@pytest.mark.parametrize("name", ["gateway", "registry"])
def test_oversized_heads_are_refused_at_once_and_cost_no_memory(front: Stack, name: str) -> None:
    path = b"/healthz"
    before = _rss_kib(front, name)
    with Healthy(front):
        for _ in range(3):
            started = time.perf_counter()
            # 100 MB in one header, sent in 64 KiB pieces until the server hangs up.
            huge = _send_head(front, name, "127.0.0.3", b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Big: ",
                              then=b"a" * 65536, repeat=100 * 16)  # fmt: skip
            assert _status(huge) == 431, huge[:300]
            assert b"application/problem+json" in huge and b"x-request-id: " in huge
            assert time.perf_counter() - started < 5
        many = _send_head(front, name, "127.0.0.3", b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n",
                          then=b"a: b\r\n" * 1000, repeat=400)  # 400,000 headers  # fmt: skip
        assert _status(many) == 431
        counted = _send_head(front, name, "127.0.0.3", b"GET " + path + b" HTTP/1.1\r\n" + b"a: b\r\n" * 150 + b"\r\n")
        assert _status(counted) == 431 and b"more than 100 headers" in counted
        long_target = _send_head(front, name, "127.0.0.3", b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(long_target) == 414
    grown = _rss_kib(front, name) - before
    assert grown < 8 * 1024, f"{name} grew by {grown} KiB"
    # Within the limits, a large head and a body of several MB in the same packets are served as before.
    body = b"x" * (3 * 1024 * 1024)
    head = b"POST /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 20_000 + b"\r\nContent-Length: %d\r\n" % len(body)
    fine = _send_head(front, name, "127.0.0.3", head + b"Connection: close\r\n\r\n" + body)
    assert _status(fine) == 405, fine[:300]  # the app's own answer to a POST on /healthz


def test_half_sent_and_silent_connections_are_closed_after_the_head_timeout(front: Stack) -> None:
    half: list[socket.socket] = []
    silent: list[socket.socket] = []
    try:
        with Healthy(front):
            for _ in range(300):
                connection = _connect(front, "gateway", "127.0.0.4")
                connection.sendall(b"GET /api/v1/registry/districts HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                half.append(connection)
            silent.extend(_connect(front, "gateway", "127.0.0.4") for _ in range(100))
            time.sleep(0.5)
        opened = time.monotonic()
        answers = {connection: b"" for connection in half + silent}
        finished: set[socket.socket] = set()
        while len(finished) < len(answers) and time.monotonic() - opened < HEAD_TIMEOUT + 10:
            readable, _, _ = select.select([c for c in answers if c not in finished], [], [], 1.0)
            for connection in readable:
                try:
                    chunk = connection.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                answers[connection] += chunk
                if not chunk:
                    finished.add(connection)
        assert len(finished) == len(answers), f"{len(answers) - len(finished)} connections still open"
        assert all(_status(answers[connection]) == 408 for connection in half)
        assert b"did not arrive within 2 seconds" in answers[half[0]]
        assert all(answers[connection] == b"" for connection in silent)
    finally:
        for connection in half + silent:
            connection.close()


def test_a_kept_alive_connection_gets_the_same_time_for_its_next_head(front: Stack) -> None:
    with closing(_connect(front, "gateway", "127.0.0.4")) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first or not first.endswith(b"}"):  # the whole first answer (a JSON object)
            first += connection.recv(65536)
        assert _status(first) == 200
        time.sleep(1.0)  # idle between requests: uvicorn's keep-alive time, not the head's, runs
        started = time.monotonic()
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = _answer(connection)
        waited = time.monotonic() - started
    assert _status(answer) == 408
    assert HEAD_TIMEOUT - 0.5 < waited < HEAD_TIMEOUT + 3


def test_a_request_answered_before_its_body_cannot_hold_the_connection_by_trickling_it(front: Stack) -> None:
    # A 404 is answered at once, before the announced gigabyte of body; the caller then sends a byte a second.
    # uvicorn's keep-alive timer stops at the first byte, so without a bound the connection stayed open for ever.
    with closing(_connect(front, "gateway", "127.0.0.6")) as connection, Healthy(front):
        connection.sendall(b"POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        started = time.monotonic()
        received = b""
        closed = False
        while time.monotonic() - started < HEAD_TIMEOUT + 8:
            try:
                connection.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            readable, _, _ = select.select([connection], [], [], 0.5)
            if readable:
                try:
                    chunk = connection.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                received += chunk
        waited = time.monotonic() - started
    assert _status(received) == 404
    assert closed and waited < HEAD_TIMEOUT + 6, waited


@pytest.mark.parametrize("name", ["gateway", "registry"])
def test_trailers_end_the_connection_and_cannot_grow_the_process(front: Stack, name: str) -> None:
    # The app has the request once its head is read (here it answers 405: POST on /healthz); trailer fields after
    # the body, which uvicorn would add to its headers, end the connection instead, and an endless one is cut off
    # after the head limit (httptools buffers a field whole).
    chunked = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
    for trailer in (b"Host: elsewhere\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"X-Endless: "):
        before = _rss_kib(front, name)
        started = time.monotonic()
        with Healthy(front):
            answer = _send_head(front, name, "127.0.0.7", chunked + trailer, then=b"v" * 65536, repeat=1600)
        assert time.monotonic() - started < 10
        assert answer.count(b"HTTP/1.1 ") <= 1, answer[:500]  # at most the app's answer: no request follows
        assert b"HTTP/1.1 200" not in answer
        assert _rss_kib(front, name) - before < 8 * 1024


def test_a_head_that_fits_the_gateway_but_not_with_its_own_headers_is_its_431(front: Stack) -> None:
    # 95 headers pass the gateway's 100; with the forwarding and signed headers it adds, the registry would refuse
    # them and close the connection: the gateway says so itself, as a problem.
    headers = {"Authorization": f"Bearer {front.keys['city']}", **{f"X-Extra-{index}": "1" for index in range(92)}}
    with httpx.Client(base_url=front.gateway, timeout=30, trust_env=False) as client:
        refused = client.get("/api/v1/registry/districts", headers=headers)
        assert refused.status_code == 431 and refused.headers["content-type"] == "application/problem+json"
        assert "the gateway adds" in refused.json()["detail"]
        fewer = {key: value for key, value in list(headers.items())[:60]}
        assert client.get("/api/v1/registry/districts", headers=fewer).status_code == 200


def test_one_client_with_all_its_places_taken_does_not_stop_another(front: Stack) -> None:
    """The greedy client announces bodies it never finishes: each holds one of its places until it hangs up."""
    greedy = front.keys["own"]
    trickling: list[socket.socket] = []
    try:
        with Healthy(front) as healthy:
            for _ in range(MAX_CONCURRENT):
                connection = _connect(front, "gateway", "127.0.0.5")
                connection.sendall(
                    b"POST /api/v1/registry/enterprises HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + greedy.encode()
                    + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
                trickling.append(connection)
            time.sleep(0.5)
            with httpx.Client(base_url=front.gateway, timeout=10, trust_env=False) as client:
                refused = client.get("/api/v1/registry/districts", headers={"Authorization": f"Bearer {greedy}"})
                assert refused.status_code == 429, refused.text
                assert refused.json()["type"] == "/problems/too-many-concurrent"
                assert refused.headers["retry-after"] == "1"
                status, seconds = healthy.read()
                assert status == 200 and seconds < HEALTHY_SECONDS
            for connection in trickling:
                connection.close()
            time.sleep(0.5)
            with httpx.Client(base_url=front.gateway, timeout=10, trust_env=False) as client:
                again = client.get("/api/v1/registry/districts", headers={"Authorization": f"Bearer {greedy}"})
                assert again.status_code == 200  # the places came back when the client went away
    finally:
        for connection in trickling:
            connection.close()


def test_forwarded_for_names_the_client_only_from_a_trusted_proxy(front: Stack) -> None:
    with httpx.Client(
        base_url=front.gateway, transport=httpx.HTTPTransport(local_address="127.0.0.6"), timeout=10, trust_env=False
    ) as untrusted, httpx.Client(
        base_url=front.gateway, transport=httpx.HTTPTransport(local_address=TRUSTED_PROXY), timeout=10,
        trust_env=False,
    ) as proxy:  # fmt: skip
        spoofed = [
            untrusted.get("/api/v1/registry/districts", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(ANONYMOUS_BURST + 10)
        ]
        assert spoofed[:ANONYMOUS_BURST] == [401] * ANONYMOUS_BURST, spoofed
        assert set(spoofed[ANONYMOUS_BURST:]) == {429}, spoofed
        forwarded = [
            proxy.get("/api/v1/registry/districts", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in range(ANONYMOUS_BURST + 10)
        ]
        assert set(forwarded) == {401}, forwarded  # thirty clients, one request each
        # One forwarded client is limited like any other address.
        same = [
            proxy.get("/api/v1/registry/districts", headers={"X-Forwarded-For": "192.0.2.1"}).status_code
            for _ in range(ANONYMOUS_BURST + 2)
        ]
        assert same[:ANONYMOUS_BURST] == [401] * ANONYMOUS_BURST and set(same[ANONYMOUS_BURST:]) == {429}, same
    time.sleep(0.3)
    lines = [line for line in front.log("gateway").splitlines() if '"forwarded_for": "198.51.100.3"' in line]
    assert any('"client": "127.0.0.6"' in line and '"peer": "127.0.0.6"' in line for line in lines), lines
    assert any('"client": "198.51.100.3"' in line and f'"peer": "{TRUSTED_PROXY}"' in line for line in lines), lines


def test_wrong_keys_are_throttled_per_address_and_others_stay_served(front: Stack) -> None:
    wrong = "cqk_000000000000_" + "x" * 43
    with Healthy(front), httpx.Client(
        base_url=front.gateway, transport=httpx.HTTPTransport(local_address="127.0.0.7"), timeout=10, trust_env=False
    ) as guesser, httpx.Client(
        base_url=front.gateway, transport=httpx.HTTPTransport(local_address="127.0.0.8"), timeout=10, trust_env=False
    ) as other:  # fmt: skip
        statuses = [
            guesser.get(
                "/api/v1/registry/districts", headers={"Authorization": f"Bearer {wrong[:-3]}{n:03d}"}
            ).status_code
            for n in range(300)
        ]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses[:20]
        refused = guesser.get("/api/v1/registry/districts", headers={"Authorization": f"Bearer {front.keys['city']}"})
        assert refused.status_code == 429 and refused.json()["type"] == "/problems/auth-failures"
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        served = other.get("/api/v1/registry/districts", headers={"Authorization": f"Bearer {front.keys['city']}"})
        assert served.status_code == 200


def _caller(front: Stack) -> httpx.Client:
    """A city caller from an address of its own (the attacks above spend other addresses' buckets)."""
    return httpx.Client(
        base_url=front.gateway,
        transport=httpx.HTTPTransport(local_address="127.0.0.9"),
        headers={"Authorization": f"Bearer {front.keys['city']}"},
        timeout=10,
        trust_env=False,
    )


def test_a_services_problem_names_the_path_the_caller_called(front: Stack) -> None:
    with _caller(front) as client:
        # The registry's own 404 and 422, for a caller who sent a prefix of its own (not believed).
        missing = client.get("/api/v1/registry/no-such-thing", headers={"X-Forwarded-Prefix": "/api/v1/elsewhere"})
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["instance"] == "/api/v1/registry/no-such-thing"
        assert "/api/v1/registry/no-such-thing" in missing.json()["detail"]
        invalid = client.get("/api/v1/registry/enterprises", params={"limit": "many"})
        assert invalid.status_code == 422
        assert invalid.json()["instance"] == "/api/v1/registry/enterprises"
        # The gateway's own problems name it too.
        unknown = client.get("/api/v1/nowhere/x")
        assert unknown.status_code == 404 and unknown.json()["instance"] == "/api/v1/nowhere/x"


def test_a_405_names_the_methods_the_document_has_for_the_path(front: Stack) -> None:
    with _caller(front) as client:
        spec = client.get("/openapi.json").json()
        for template, path, method in [
            ("/api/v1/registry/districts", "/api/v1/registry/districts", "DELETE"),
            ("/api/v1/registry/enterprises", "/api/v1/registry/enterprises", "PUT"),
        ]:
            documented = [name.upper() for name in ("get", "head", "post", "put", "patch", "delete")]
            expected = [name for name in documented if name.lower() in spec["paths"][template]]
            refused = client.request(method, path)
            assert refused.status_code == 405, (path, refused.text)
            assert refused.headers["allow"] == ", ".join(expected), path
            assert refused.json()["instance"] == path
        # A method the gateway never passes on: its own 405, from the same document.
        traced = client.request("TRACE", "/api/v1/registry/enterprises")
        assert traced.status_code == 405 and traced.headers["allow"] == "GET, POST"
        # The gateway's own paths.
        assert client.post("/healthz").headers["allow"] == "GET"
        assert client.delete("/docs/assets/swagger-ui.css").headers["allow"] == "GET, HEAD"


def test_a_browser_may_read_the_headers_a_client_needs(front: Stack) -> None:
    wanted = {"x-request-id", "etag", "location", "retry-after", "content-disposition", "idempotent-replayed"}
    with _caller(front) as client:
        preflight = client.options(
            "/api/v1/registry/enterprises",
            headers={
                "Origin": BROWSER_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, idempotency-key, x-request-id",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == BROWSER_ORIGIN
        allowed = {name.strip().lower() for name in preflight.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key", "x-request-id"} <= allowed
        answered = client.get("/api/v1/registry/districts", headers={"Origin": BROWSER_ORIGIN})
        assert answered.status_code == 200
        assert answered.headers["access-control-allow-origin"] == BROWSER_ORIGIN
        exposed = {name.strip().lower() for name in answered.headers["access-control-expose-headers"].split(",")}
        assert wanted <= exposed
        assert answered.headers["x-request-id"]
        # A problem is exposed the same way: a browser reads its request id and Retry-After.
        missing = client.get("/api/v1/registry/no-such-thing", headers={"Origin": BROWSER_ORIGIN})
        assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == BROWSER_ORIGIN
        assert "x-request-id" in missing.headers["access-control-expose-headers"].lower()
