"""What the access matrix and the security tests share: callers with keys of their own, the records they act on,
the route table of every service (with a valid request for each route), a client that checks every answer for
banners and leaks, and a watch on every table of every service database.

The route table is written by hand from `../shared/API.md`, `gateway/access.py` and the services' scoping; the
coverage tests compare it with the merged OpenAPI document of the running gateway, so a new route cannot slip
past it.
"""

import asyncio
import hashlib
import http.server
import itertools
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key, revoke_key
from shared.nonces import TABLE_NAME
from shared.uscc import ALPHABET, make_uscc
from tests.stack import Stack

API = "/api/v1"
OWN, FOREIGN = "500103", "500105"
# Callers in the order the matrix tries them: every refusal is sent before any success can change a record.
CALLERS = ("none", "bad", "revoked", "auditor", "foreign", "own", "city")
KEYS_PER_CALLER = 3  # each key has its own token bucket (20/s, burst 60 in the e2e stack)
# The ranking year these tests publish, a year that has ended (a ranking is made once its year is over); its base
# year 2024 gets figures below.
RANKED_YEAR = 2025
# Another city policy, registered by the city before awards are made under it (an award names a registered policy).
OTHER_POLICY = {
    "document_number": "渝府发〔2024〕18号",
    "title": "重庆市加速推进现代生产性服务业高质量发展行动方案（2024—2027年）",
    "issuer": "重庆市人民政府",
    "effective_from": "2024-10-30",
    "effective_to": "2027-12-31",
}
# A key of the right shape whose id does not exist.
UNKNOWN_KEY = "cqk_0123456789ab_" + "Z" * 43
# What a problem body (or any answer) must never carry: a stack trace, a library's name or version.
LEAK_MARKERS = re.compile(
    r"traceback|File \"[^\"]+\", line \d+|site-packages|sqlalchemy|asyncpg|psycopg|starlette|uvicorn|fastapi|"
    r"pydantic|errors\.pydantic\.dev|python/\d|\.py\b",
    re.IGNORECASE,
)
BANNER_WORDS = re.compile(r"uvicorn|gunicorn|hypercorn|starlette|fastapi|python|httpx|h11|httptools", re.IGNORECASE)
# `job_status`: the job problem's own field (a 409 of the jobs routes says what state the job is in: shared/jobs.py).
PROBLEM_KEYS = frozenset({"type", "title", "status", "detail", "instance", "request_id", "errors", "job_status"})

_rng = random.Random(20241119)
_counter = itertools.count(1)
_amendment_days = itertools.count(0)


def new_uscc(district: str = OWN) -> str:
    return make_uscc("91" + district + "".join(_rng.choice(ALPHABET) for _ in range(9)))


def serial() -> int:
    return next(_counter)


# ---- clients -----------------------------------------------------------------------------------------------------


class RotatingBearer(httpx.Auth):
    """One caller with several keys of the same role, used in turn so that no single bucket runs dry."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = itertools.cycle(keys)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {next(self._keys)}"
        yield request


class PatientTransport(httpx.HTTPTransport):
    """Waits out a 429 (the e2e stack's rate limit is low) and sends the request again, when it can be resent."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(10):
            response = super().handle_request(request)
            if response.status_code != 429 or not isinstance(request.stream, httpx.ByteStream):
                return response
            response.read()
            response.close()
            time.sleep(min(float(response.headers.get("retry-after", "1")), 3.0))
        return response


def check_answer(response: httpx.Response) -> None:
    """Every answer: no version banner, a request id; an error is a clean problem without a trace or versions."""
    response.read()
    headers = response.headers
    assert "server" not in headers, f"{response.request.url}: server banner {headers['server']!r}"
    assert "x-powered-by" not in headers, f"{response.request.url}: x-powered-by {headers['x-powered-by']!r}"
    for name, value in headers.items():  # nor a server's or library's name in any other header (via, x-runtime…)
        assert BANNER_WORDS.search(value) is None, f"{response.request.url}: {name}: {value}"
    assert headers.get("x-request-id"), f"{response.request.url}: no X-Request-ID"
    if response.status_code >= 400:
        assert headers.get("content-type") == "application/problem+json", (
            f"{response.request.method} {response.request.url}: {response.status_code} is not a problem: "
            f"{headers.get('content-type')} {response.text[:300]}"
        )
        problem = response.json()
        assert {"type", "title", "status", "detail"} <= set(problem), problem
        assert problem["status"] == response.status_code, problem
        assert problem.get("request_id") == headers["x-request-id"], problem
        leak = LEAK_MARKERS.search(response.text)
        assert leak is None, f"{response.request.url}: the problem gives away {leak.group(0)!r}: {response.text[:500]}"


def make_client(base_url: str, keys: list[str] | None = None, *, check: bool = True) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        auth=RotatingBearer(keys) if keys else None,
        transport=PatientTransport(),
        timeout=60,
        trust_env=False,
        event_hooks={"response": [check_answer]} if check else {},
    )


def send_json(client: httpx.Client, method: str, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    """JSON written with ASCII escapes, so that a lone surrogate (`"\\ud800"`) travels as the escape it is."""
    if isinstance(path, FreshPaths):
        path = path.next()
    if body is None:
        return client.request(method, path, **kwargs)
    content = json.dumps(body, ensure_ascii=True)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.request(method, path, content=content, headers=headers, **kwargs)


# ---- keys --------------------------------------------------------------------------------------------------------


def make_caller_keys(stack: Stack) -> dict[str, list[str]]:
    """Keys of this module's own: KEYS_PER_CALLER per role, and one city key that worked and was then revoked."""
    assert stack.gateway_db is not None
    url = stack.gateway_db.url

    async def create(session: AsyncSession) -> dict[str, list[str]]:
        made: dict[str, list[str]] = {}
        for caller, role, district in [
            ("city", "city", None),
            ("auditor", "auditor", None),
            ("own", "district", OWN),
            ("foreign", "district", FOREIGN),
        ]:
            made[caller] = [
                (await create_key(session, role, district, label=f"security {caller}"))[0]
                for _ in range(KEYS_PER_CALLER)
            ]
        made["revoked"] = [(await create_key(session, "city", None, label="security revoked"))[0]]
        return made

    keys = run_in_session(url, create)
    with make_client(stack.gateway, keys["revoked"]) as before:
        assert before.get(f"{API}/registry/districts").status_code == 200  # the key worked until it was revoked

    async def revoke(session: AsyncSession) -> None:
        await revoke_key(session, keys["revoked"][0])

    run_in_session(url, revoke)
    keys["bad"] = [UNKNOWN_KEY]
    return keys


# ---- every table of every service ----------------------------------------------------------------------------------

Snapshot = dict[str, tuple[int, str]]


# A table's content in one value, computed by PostgreSQL: the digest of its rows' digests, in order.
_DIGEST = "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY md5(t::text)), '')) FROM \"{}\" t"
# What a service records of every signed write it accepts, written even when the write itself is refused.
_NOT_DATA = frozenset({TABLE_NAME})
# Tables the workers write in the background, whatever the requests do: the job queue's own (every service with a
# worker; its heartbeats alone change it every second), the jobs' progress, and what the notifications relay and
# deliveries record (events pulled from the producers, their deliveries and every attempt, the relay's cursors).
# A write that lands only there (a ping, a redelivery) is marked `unwatched` in its row of the table.
_QUEUE_PREFIX = "procrastinate_"
_BACKGROUND = frozenset(
    {
        "registry.jobs",
        "eligibility.jobs",
        "notifications.events",
        # The worker counts each subscription's failed tries and dead deliveries (its breakers) on its row.
        "notifications.subscriptions",
        "notifications.deliveries",
        "notifications.delivery_attempts",
        "notifications.relay_cursors",
        # The nightly screening's snapshots (eligibility's periodic task, or a snapshot taken early as a job).
        "eligibility.screening_snapshots",
        "eligibility.screening_snapshot_entries",
    }
)


class Tables:
    """Row count and a digest of the content of every table of every service database, read directly."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._runner = asyncio.Runner()
        self._engines: dict[str, AsyncEngine] = {name: create_async_engine(url) for name, url in urls.items()}

    def close(self) -> None:
        for engine in self._engines.values():
            self._runner.run(engine.dispose())
        self._runner.close()

    def snapshot(self) -> Snapshot:
        return self._runner.run(self._snapshot())

    async def _snapshot(self) -> Snapshot:
        out: Snapshot = {}
        for name, engine in self._engines.items():
            async with engine.connect() as connection:
                tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
                watched = {
                    table
                    for table in set(tables) - _NOT_DATA
                    if not table.startswith(_QUEUE_PREFIX) and f"{name}.{table}" not in _BACKGROUND
                }
                for table in sorted(watched):
                    if connection.dialect.name == "postgresql":
                        count, digest = (await connection.execute(text(_DIGEST.format(table)))).one()
                    else:
                        rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()
                        count = len(rows)
                        lines = "\n".join(sorted(repr(tuple(row)) for row in rows))
                        digest = hashlib.sha256(lines.encode()).hexdigest()
                    out[f"{name}.{table}"] = (int(count), str(digest))
        return out


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def assert_untouched(before: Snapshot, after: Snapshot, what: str) -> None:
    assert not changed(before, after), f"{what} changed {changed(before, after)}"


def assert_only_grew(before: Snapshot, after: Snapshot, what: str) -> None:
    """Every table still there, none lost rows (an accepted write adds or changes rows, never removes any)."""
    assert before.keys() == after.keys(), f"{what}: tables changed: {sorted(before.keys() ^ after.keys())}"
    shrunk = [name for name in before if after[name][0] < before[name][0]]
    assert not shrunk, f"{what}: rows lost in {shrunk}"


class Segment:
    """A stretch of requests watched as one: nothing written unless one was accepted, and then nothing lost."""

    def __init__(self, tables: Tables, what: str) -> None:
        self.tables = tables
        self.what = what
        self.before: Snapshot = {}
        self.accepted = 0

    def start(self) -> None:
        self.before = self.tables.snapshot()
        self.accepted = 0

    def check(self) -> None:
        after = self.tables.snapshot()
        if self.accepted:
            assert_only_grew(self.before, after, self.what)
        else:
            assert_untouched(self.before, after, f"{self.what}, every request refused,")


def service_database_urls(stack: Stack) -> dict[str, str]:
    return {
        name: stack.env[f"{name.upper()}_DATABASE_URL"]
        for name in ("registry", "eligibility", "ranking", "monitoring", "notifications")
        if f"{name.upper()}_DATABASE_URL" in stack.env
    }


# ---- the records the routes act on ----------------------------------------------------------------------------------


@dataclass
class Records:
    """Records of district OWN, made by the city; names carry `mark`, which no refused answer may show."""

    api: httpx.Client  # a city client
    mark: str
    own_api: httpx.Client | None = None  # a client of district OWN, for what only a district makes (held registrations)
    enterprise: str = ""
    cluster: int = 0
    building: int = 0
    project: int = 0
    designation: int = 0
    award: int = 0
    run: int = 0
    parameter: str = "m13.cap_yuan"
    parameter_value: str = ""
    methodology: str = "2024.1"
    ranked_year: int = RANKED_YEAR
    receiver: "Receiver | None" = None  # the webhook endpoint of the subscriptions made here
    subscription: int = 0  # district OWN's
    registry_job: str = ""  # an import of district OWN's, finished
    eligibility_job: str = ""  # a screening of district OWN's, finished

    def created(self, response: httpx.Response) -> Any:
        assert response.status_code in (200, 201), f"{response.request.url}: {response.status_code} {response.text}"
        return response.json()

    def new_award(self) -> int:
        """A fresh proposed award of district OWN (under another city policy: the registry is not read)."""
        body = award_body(self)
        return int(self.created(send_json(self.api, "POST", f"{API}/eligibility/awards", body))["id"])

    def new_registration(self) -> int:
        """A fresh registration of district OWN held for the city: its credit code names FOREIGN's division."""
        assert self.own_api is not None
        body = enterprise_body(self) | {"uscc": new_uscc(FOREIGN)}
        response = send_json(self.own_api, "POST", f"{API}/registry/enterprises", body)
        assert response.status_code == 202, f"{response.request.url}: {response.status_code} {response.text}"
        return int(response.json()["id"])

    def new_designation(self) -> int:
        """A fresh 市级领军企业 designation of a fresh enterprise of district OWN (one live designation each)."""
        body = designation_body(self)
        return int(self.created(send_json(self.api, "POST", f"{API}/registry/leading-enterprises", body))["id"])

    def new_run(self) -> int:
        """A fresh draft ranking run of RANKED_YEAR."""
        body = {"year": self.ranked_year}
        return int(self.created(send_json(self.api, "POST", f"{API}/ranking/runs", body))["run_id"])

    def new_observation(self) -> str:
        """A corrected value of OBSERVED in MONITORED_YEAR: the year's assessment changes, so it may be published."""
        path = f"{API}/monitoring/indicators/{OBSERVED}/observations/{MONITORED_YEAR}"
        self.created(send_json(self.api, "PUT", path, observation_body(self)))
        return f"/publications/{MONITORED_YEAR}"

    def new_subscription(self) -> int:
        """A fresh subscription of district OWN (made with its key, so it is the district's own) to the receiver."""
        assert self.own_api is not None
        body = subscription_body(self)
        return int(self.created(send_json(self.own_api, "POST", f"{API}/notifications/subscriptions", body))["id"])

    def new_delivery(self) -> int:
        """A ping of OWN's subscription: its delivery, once finished (the receiver answers 204), may be redelivered."""
        response = send_json(self.api, "POST", f"{API}/notifications/subscriptions/{self.subscription}/ping", None)
        assert response.status_code == 202, f"{response.request.url}: {response.status_code} {response.text}"
        return int(response.json()["id"])

    def finished_deliveries(self, count: int) -> list[int]:
        made = [self.new_delivery() for _ in range(count)]
        wait_until(
            lambda: all(
                item["status"] in ("succeeded", "dead")
                for item in _pages(self, f"/notifications/subscriptions/{self.subscription}/deliveries")
                if item["id"] in made
            ),
            "the pings delivered",
        )
        return made

    def new_job(self, service: str, path: str, body: Any) -> str:
        """A job of district OWN (`Prefer: respond-async`), waited for until it has finished."""
        assert self.own_api is not None
        response = send_json(self.own_api, "POST", f"{API}/{service}{path}", body, headers={"Prefer": "respond-async"})
        assert response.status_code == 202, f"{response.request.url}: {response.status_code} {response.text}"
        job = str(response.json()["id"])
        status: dict[str, Any] = {}

        def finished() -> bool:
            status.update(_get(self, f"/{service}/jobs/{job}"))
            return status["status"] in ("succeeded", "failed", "cancelled")

        wait_until(finished, f"the {service} job {job} finished")
        assert status["status"] == "succeeded", status
        return job

    def amendment_date(self) -> str:
        """A day late in the policy's term that no other amendment of this test run uses."""
        return (date(2027, 12, 31) - timedelta(days=next(_amendment_days))).isoformat()


def enterprise_body(r: Records, district: str = OWN) -> dict[str, Any]:
    return {
        "uscc": new_uscc(district),
        "name": f"安全矩阵企业{serial()}有限公司",
        "district_code": district,
        "sector": "software_it",
        "established_on": "2015-03-01",
        "spun_off_from_manufacturer": False,
    }


# The monitoring service's observed indicator and assessed year (2025 has ended: it may be published).
OBSERVED = "modern_logistics.logistics_cost_share_of_gdp"
MONITORED_YEAR = 2025


def observation_body(r: Records) -> dict[str, Any]:
    """A value of OBSERVED (percent) no other request sends, with its source and the reason of a correction."""
    return {
        "value": f"13.{serial():04d}",
        "unit": "percent",
        "source_kind": "statistics_bureau",
        "source": "市统计局安全测试公报",
        "reason": f"安全测试修订{serial()}",
    }


def designation_body(r: Records) -> dict[str, Any]:
    """A designation of a fresh enterprise of district OWN (an enterprise has one live designation at a time)."""
    uscc = r.created(send_json(r.api, "POST", f"{API}/registry/enterprises", enterprise_body(r)))["uscc"]
    return {"uscc": uscc, "year": 2025, "document": f"渝发改服务〔2025〕{serial()}号"}


def award_body(r: Records, district: str = OWN) -> dict[str, Any]:
    return {
        "policy": OTHER_POLICY["document_number"],
        "recipient_kind": "enterprise",
        "measure_id": "第三十二条",
        "subject_type": "enterprise",
        "subject_id": new_uscc(district),
        "district_code": district,
        "amount_yuan": "100000.00",
        "subject_name": f"{r.mark}奖励对象{serial()}",
    }


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook endpoint on the loopback (the e2e stack allows 127.0.0.0/8): 204 to every delivery."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.received = 0
        self.thread = threading.Thread(target=self.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/security"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.2)


def _pages(r: Records, path: str) -> list[dict[str, Any]]:
    """Every item of a cursor listing, read as the city."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = r.api.get(API + path, params={"limit": 500, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json().get("next_cursor")
        if not cursor or not page.json()["items"]:
            return items


def subscription_body(r: Records) -> dict[str, Any]:
    """A subscription to a rare event type (the matrix's own writes do not make deliveries to it)."""
    assert r.receiver is not None
    return {
        "url": r.receiver.url,
        "event_types": ["policy.expiring"],
        "description": f"安全矩阵订阅{serial()}",
    }


def make_records(api: httpx.Client, own_api: httpx.Client | None = None) -> Records:
    r = Records(api=api, mark=f"机密{uuid.uuid4().hex[:8]}", own_api=own_api)
    registered = send_json(api, "POST", f"{API}/eligibility/policies", OTHER_POLICY)
    # Registered once per stack: another test of the session may have done it already.
    assert registered.status_code in (201, 409), registered.text
    enterprise = enterprise_body(r) | {"name": f"{r.mark}企业有限公司"}
    r.enterprise = r.created(send_json(api, "POST", f"{API}/registry/enterprises", enterprise))["uscc"]
    for year, revenue in ((RANKED_YEAR - 1, "20000000.00"), (RANKED_YEAR, "26000000.00")):
        figures = {"revenue_yuan": revenue, "employees": 80, "above_scale": True}
        r.created(send_json(api, "PUT", f"{API}/registry/enterprises/{r.enterprise}/years/{year}", figures))
    cluster = {"name": f"{r.mark}集聚区", "district_code": OWN}
    r.cluster = r.created(send_json(api, "POST", f"{API}/registry/clusters", cluster))["id"]
    evaluation = {"grade": "B", "score": "80.00"}  # for the verification routes (the PUT route writes 2024 again)
    r.created(send_json(api, "PUT", f"{API}/registry/clusters/{r.cluster}/evaluations/2024", evaluation))
    cluster_revenue = {"revenue_yuan": "10000000000.00"}  # for the verification route (the PUT writes 2024 again)
    r.created(send_json(api, "PUT", f"{API}/registry/clusters/{r.cluster}/years/2024", cluster_revenue))
    building = {"name": f"{r.mark}大厦", "district_code": OWN, "stars": 4, "operator_uscc": r.enterprise}
    r.building = r.created(send_json(api, "POST", f"{API}/registry/buildings", building))["id"]
    revenue = {"revenue_yuan": "150000000.00"}
    r.created(send_json(api, "PUT", f"{API}/registry/buildings/{r.building}/years/2024", revenue))
    project = {
        "kind": "event",
        "owner_uscc": r.enterprise,
        "district_code": OWN,
        "name": f"{r.mark}论坛",
        "year": 2025,
        "actual_spend_yuan": "800000.00",
    }
    r.project = r.created(send_json(api, "POST", f"{API}/registry/projects", project))["id"]
    designation = {"uscc": r.enterprise, "year": 2025, "document": "渝发改服务〔2025〕12号"}
    r.designation = r.created(send_json(api, "POST", f"{API}/registry/leading-enterprises", designation))["id"]
    r.award = r.new_award()
    r.run = r.new_run()
    # Published with a reason: another test of the session may have published this year already.
    published = send_json(api, "POST", f"{API}/ranking/runs/{r.run}/publish", {"reason": "安全测试发布"})
    r.created(published)
    # The monitoring's year: a value recorded, then published (another test of the session may have published).
    published = send_json(api, "POST", f"{API}/monitoring{r.new_observation()}", {"reason": "安全测试发布监测"})
    r.created(published)
    parameter = r.created(api.get(f"{API}/eligibility/parameters/{r.parameter}", params={"as_of": "2027-12-31"}))
    r.parameter_value = parameter["value"]
    # Issue 17: a subscription of district OWN with an endpoint that answers, and a finished job of each service.
    r.receiver = Receiver().start()
    r.subscription = r.new_subscription()
    r.registry_job = r.new_job("registry", "/enterprises/import", import_rows(r))
    r.eligibility_job = r.new_job(
        "eligibility", "/screenings", {"as_of": "2026-06-30", "year": 2025, "district_code": OWN}
    )
    return r


# ---- the route table ------------------------------------------------------------------------------------------------

OK = 0  # any 2xx


@dataclass(frozen=True)
class Case:
    service: str
    method: str
    template: str  # the service's own path template, as in its OpenAPI document
    path: Callable[[Records], str]  # called once per use: it may make a fresh record to act on
    body: Callable[[Records], Any] | None  # called for every request: each gets a fresh body
    allowed: frozenset[str]  # callers that succeed
    # Callers with a valid key that are refused, and how; any other caller with a valid key gets 403.
    refused: tuple[tuple[str, int], ...] = ()
    # Where what a write stored is read back: the body's fields → the stored values (None: the answer itself).
    stored: Callable[[Records, str, Any, httpx.Response], dict[str, Any]] | None = None
    computes: bool = False  # a POST that computes and stores nothing
    # A write whose rows land only in tables the workers also write in the background (the delivery log), which the
    # watch leaves out (`_BACKGROUND`): its refusals are still proven to write nothing anywhere else.
    unwatched: bool = False
    # A body with no text field at all (a year): left out of the body tests, which inject text into every field.
    textless: bool = False

    @property
    def changes_state(self) -> bool:
        # No caller allowed (every one refused, e.g. cancelling a finished job): nothing may change.
        return self.writes and not self.computes and not self.unwatched and bool(self.allowed)

    @property
    def id(self) -> str:
        return f"{self.method} {self.service}{self.template}"

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")

    def url(self, r: Records) -> str:
        return f"{API}/{self.service}{self.path(r)}"

    def expected(self, caller: str) -> int:
        """The status `caller` gets: OK for a 2xx, else the exact status."""
        if caller in ("bad", "revoked"):
            return 401  # a key that is presented and not valid is refused on every route, public ones too
        if caller in self.allowed:
            return OK
        if caller == "none":
            return 401  # the route needs a key
        return dict(self.refused).get(caller, 403)


@dataclass(frozen=True)
class OneShotCase(Case):
    """A write that works once on its record (a DELETE, a redelivery): `url` makes a fresh record for every caller
    of the matrix (before the watch starts) and `send_json` sends each request to the next one."""

    # Makes all the records at once (e.g. pings delivered together), each one's path; else `path`, once per caller.
    paths: Callable[[Records, int], list[str]] | None = None

    def url(self, r: Records) -> str:
        paths = self.paths(r, len(CALLERS)) if self.paths else [self.path(r) for _ in CALLERS]
        return FreshPaths([f"{API}/{self.service}{path}" for path in paths])


class FreshPaths(str):
    """A request path that is a new record's each time it is sent (`send_json`); as a string, the first one."""

    def __new__(cls, paths: list[str]) -> "FreshPaths":
        made = super().__new__(cls, paths[0])
        made._paths = list(paths)  # type: ignore[attr-defined]
        return made

    def next(self) -> str:
        paths: list[str] = self._paths  # type: ignore[attr-defined]
        return paths.pop(0) if len(paths) > 1 else paths[0]


def callers(*names: str) -> frozenset[str]:
    return frozenset(names)


EVERYONE = callers("none", "city", "auditor", "own", "foreign")  # public: no key needed
EVERY_KEY = callers("city", "auditor", "own", "foreign")
OWN_READERS = callers("city", "auditor", "own")
OWN_WRITERS = callers("city", "own")
CITY = callers("city")
CITY_AUDITOR = callers("city", "auditor")


def _get(r: Records, path: str) -> Any:
    response = r.api.get(API + path)
    assert response.status_code == 200, response.text
    return response.json()


def _enterprise(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(_get(r, path.removeprefix(API)))


def _created_enterprise(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(_get(r, f"/registry/enterprises/{response.json()['uscc']}"))


def _imported_enterprise(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    row = body[0]
    stored = dict(_get(r, f"/registry/enterprises/{row['uscc']}"))
    years: dict[int, dict[str, Any]] = {item["year"]: item for item in stored.pop("years")}
    return stored | years.get(row.get("year"), {})


def _by_id(kind: str) -> Callable[[Records, str, Any, httpx.Response], dict[str, Any]]:
    def read(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
        return dict(_get(r, f"/registry/{kind}/{response.json()['id']}"))

    return read


def _year_of(kind: str, key: str) -> Callable[[Records, str, Any, httpx.Response], dict[str, Any]]:
    def read(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
        parts = path.removeprefix(f"{API}/registry/").split("/")
        stored = _get(r, f"/registry/{kind}/{parts[1]}")
        return dict(next(item for item in stored[key] if item["year"] == int(parts[3])))

    return read


def _cluster_year(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    parts = path.removeprefix(f"{API}/registry/").split("/")
    stored = _get(r, f"/registry/clusters/{parts[1]}/years")
    return dict(next(item for item in stored["years"] if item["year"] == int(parts[3])))


def _revocation(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    """A revocation as the designation records it (the reason inside `revocation`)."""
    stored = _get(r, f"/registry/leading-enterprises/{response.json()['id']}")
    return {"reason": stored["revocation"]["reason"]}


def _amendment(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    stored = _get(r, f"/eligibility/parameters/{r.parameter}?as_of=2027-12-31")
    dated = next(item for item in stored["history"] if item["effective_from"] == body["effective_from"])
    return {"effective_from": dated["effective_from"], "value": dated["value"], "reason": dated["note"]}


def _award(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    stored = dict(_get(r, f"/eligibility/awards/{response.json()['id']}"))
    return stored | {"reason": stored["events"][0]["reason"]}  # the proposal's note is its first event's reason


def _transition(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    stored = _get(r, f"/eligibility/awards/{response.json()['id']}")
    last = stored["events"][-1]
    return {"action": last["event"], "reason": last["reason"], "on": last["on"]}


def _policy(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(_get(r, f"/eligibility/policies/{response.json()['id']}"))


def _methodology(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(_get(r, f"/ranking/methodologies/{response.json()['version']}"))


def _run(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(_get(r, f"/ranking/runs/{response.json()['run_id']}"))


def _publication(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    stored = _get(r, f"/ranking/runs/{response.json()['run_id']}")
    return {"reason": stored["publish_reason"]}


def _observation(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    stored = _get(r, f"{path.removeprefix(API)}/history")
    return dict(stored["revisions"][-1])


def _monitoring_publication(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    version = response.json()["version"]
    return dict(_get(r, f"/monitoring/publications/{MONITORED_YEAR}/versions/{version}"))


def _subscription(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    """A subscription as read back by the city (the secret is shown once, in the 201, never again)."""
    return dict(_get(r, f"/notifications/subscriptions/{response.json()['id']}"))


def _decision(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    """A verification decision as its answer records it (the reason inside `verification`)."""
    return {"decision": body["decision"], "reason": response.json()["verification"]["reason"]}


def _decisions(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    items = response.json()["items"]
    return {
        "items": [
            {"record": item["record"], "id": item["id"], "decision": sent["decision"],
             "reason": item["verification"]["reason"]}
            for item, sent in zip(items, body["items"], strict=True)
        ]
    }  # fmt: skip


def verification_body(r: Records) -> dict[str, Any]:
    return {"decision": "verify", "reason": f"安全测试核验{serial()}"}


def _first_item(r: Records, path: str, body: Any, response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["items"][0])


def import_rows(r: Records) -> list[dict[str, Any]]:
    # Figures of 2023, outside the ranked year and its base year: an imported enterprise above size in 2024 without
    # 2025 figures would be unreported and hold the ranking's publication back.
    return [
        enterprise_body(r)
        | {"year": 2023, "revenue_yuan": "12000000.00", "employees": 30, "above_scale": True, "top500_service": False}
    ]


def policy_body(r: Records) -> dict[str, Any]:
    """Another city policy, under a document number no other request uses (canonical, as it is stored)."""
    return {
        "document_number": f"渝安测发〔2025〕{serial()}号",
        "title": f"安全测试政策{serial()}",
        "issuer": "重庆市安全测试办公室",
        "effective_from": "2025-01-01",
        "effective_to": "2026-12-31",
    }


# A year neither the library nor any other test knows: recording it changes no answer the other requests get.
CALENDAR_YEAR = 2040


def calendar_body(r: Records) -> dict[str, Any]:
    """An official schedule of CALENDAR_YEAR as the city would record it (the test's own dates, not a real notice)."""
    return {
        "notice": f"国办发明电〔2039〕{serial()}号",
        "holidays": [{"name": "国庆节", "first_day": "2040-10-01", "last_day": "2040-10-07"}],
        "make_up_working_days": ["2040-09-30"],
    }


def methodology_body(r: Records) -> dict[str, Any]:
    return {
        "version": f"sec{serial()}.{uuid.uuid4().hex[:6]}",
        "weights": {"new_count": "0.3", "net_increase": "0.3", "revenue_growth": "0.4"},
        "description": "安全测试用的方法版本，不设为默认",
        "make_default": False,
    }


CALCULATION = {
    "measure_id": "M01",
    "as_of": "2025-06-30",
    "facts": {"verified_investment_yuan": "30000000.00", "special_major_approved": False},
}


def _job_cases(service: str) -> list[Case]:
    """The jobs routes of a service, on its finished job of district OWN (`Records.<service>_job`)."""

    def job(r: Records) -> str:
        return str(getattr(r, f"{service}_job"))

    return [
        Case(service, "GET", "/jobs/{id}", lambda r: f"/jobs/{job(r)}", None, OWN_READERS, refused=(("foreign", 404),)),
        Case(service, "GET", "/jobs/{id}/result", lambda r: f"/jobs/{job(r)}/result", None, OWN_READERS,
             refused=(("foreign", 404),)),
        # The job has succeeded: there is nothing to cancel (409) for those who may cancel; nothing is written.
        Case(service, "DELETE", "/jobs/{id}", lambda r: f"/jobs/{job(r)}", None, callers(),
             refused=(("foreign", 404), ("auditor", 403), ("own", 409), ("city", 409))),
    ]  # fmt: skip


# fmt: off
CASES: list[Case] = [
    # ---- registry: every read needs a key; a district reads and writes its own district only ----
    Case("registry", "GET", "/districts", lambda r: "/districts", None, EVERY_KEY),
    Case("registry", "GET", "/sectors", lambda r: "/sectors", None, EVERY_KEY),
    Case("registry", "POST", "/enterprises", lambda r: "/enterprises", enterprise_body, OWN_WRITERS,
         stored=_created_enterprise),
    Case("registry", "GET", "/enterprises", lambda r: f"/enterprises?district_code={OWN}", None, OWN_READERS),
    # A foreign district's rows are each refused (not its district): with atomic=true the import is a 422.
    Case("registry", "POST", "/enterprises/import", lambda r: "/enterprises/import?atomic=true", import_rows,
         OWN_WRITERS, refused=(("foreign", 422),), stored=_imported_enterprise),
    Case("registry", "GET", "/enterprises/{uscc}", lambda r: f"/enterprises/{r.enterprise}", None, OWN_READERS),
    Case("registry", "PATCH", "/enterprises/{uscc}", lambda r: f"/enterprises/{r.enterprise}",
         lambda r: {"name": f"安全矩阵改名{serial()}有限公司"}, OWN_WRITERS, stored=_enterprise),
    Case("registry", "PUT", "/enterprises/{uscc}/years/{year}", lambda r: f"/enterprises/{r.enterprise}/years/2024",
         lambda r: {"revenue_yuan": f"{serial() * 1000}.00", "employees": 20, "above_scale": False}, OWN_WRITERS,
         stored=_year_of("enterprises", "years")),
    Case("registry", "POST", "/clusters", lambda r: "/clusters",
         lambda r: {"name": f"安全矩阵集聚区{serial()}", "district_code": OWN}, OWN_WRITERS, stored=_by_id("clusters")),
    Case("registry", "GET", "/clusters", lambda r: f"/clusters?district_code={OWN}", None, OWN_READERS),
    Case("registry", "GET", "/clusters/{cluster_id}", lambda r: f"/clusters/{r.cluster}", None, OWN_READERS),
    Case("registry", "PUT", "/clusters/{cluster_id}/evaluations/{year}",
         lambda r: f"/clusters/{r.cluster}/evaluations/2024", lambda r: {"grade": "A", "score": "91.50", "tier": 1},
         OWN_WRITERS, stored=_year_of("clusters", "evaluations")),
    Case("registry", "POST", "/buildings", lambda r: "/buildings",
         lambda r: {"name": f"安全矩阵大厦{serial()}", "district_code": OWN, "stars": 3, "operator_uscc": new_uscc()},
         OWN_WRITERS, stored=_by_id("buildings")),
    Case("registry", "GET", "/buildings", lambda r: f"/buildings?district_code={OWN}", None, OWN_READERS),
    Case("registry", "GET", "/buildings/{building_id}", lambda r: f"/buildings/{r.building}", None, OWN_READERS),
    Case("registry", "PUT", "/buildings/{building_id}/years/{year}", lambda r: f"/buildings/{r.building}/years/2024",
         lambda r: {"revenue_yuan": f"{150000000 + serial()}.00"}, OWN_WRITERS, stored=_year_of("buildings", "years")),
    # The owner must be an enterprise of the registry (of OWN: the project lies in its owner's district).
    Case("registry", "POST", "/projects", lambda r: "/projects",
         lambda r: {"kind": "investment", "owner_uscc": r.enterprise, "district_code": OWN,
                    "name": f"安全矩阵投资项目{serial()}", "year": 2025, "verified_investment_yuan": "30000000.00",
                    "project_code": f"2025-{OWN}-65-01-{serial():06d}"},
         OWN_WRITERS, stored=_by_id("projects")),
    Case("registry", "GET", "/projects", lambda r: f"/projects?district_code={OWN}", None, OWN_READERS),
    Case("registry", "GET", "/projects/{project_id}", lambda r: f"/projects/{r.project}", None, OWN_READERS),
    Case("registry", "GET", "/district-stats/{year}", lambda r: f"/district-stats/{RANKED_YEAR}", None, EVERY_KEY),
    # 隶属关系: only the city names a city department (a district may set its own district only).
    Case("registry", "PATCH", "/clusters/{cluster_id}", lambda r: f"/clusters/{r.cluster}",
         lambda r: {"belongs_to": {"kind": "city_department", "department": f"两江新区管委会{serial()}"}}, CITY,
         stored=_by_id("clusters")),
    # Verification of the facts that decide money: the city only (the gateway refuses everyone else).
    Case("registry", "POST", "/enterprises/{uscc}/years/{year}/verification",
         lambda r: f"/enterprises/{r.enterprise}/years/{RANKED_YEAR}/verification", verification_body, CITY,
         stored=_decision),
    Case("registry", "POST", "/clusters/{cluster_id}/evaluations/{year}/verification",
         lambda r: f"/clusters/{r.cluster}/evaluations/2024/verification", verification_body, CITY, stored=_decision),
    Case("registry", "POST", "/buildings/{building_id}/verification",
         lambda r: f"/buildings/{r.building}/verification", verification_body, CITY, stored=_decision),
    Case("registry", "POST", "/buildings/{building_id}/years/{year}/verification",
         lambda r: f"/buildings/{r.building}/years/2024/verification", verification_body, CITY, stored=_decision),
    Case("registry", "POST", "/projects/{project_id}/verification",
         lambda r: f"/projects/{r.project}/verification", verification_body, CITY, stored=_decision),
    Case("registry", "POST", "/verifications", lambda r: "/verifications",
         lambda r: {"items": [{"record": "project", "id": str(r.project)} | verification_body(r)]}, CITY,
         stored=_decisions),
    # The queue is the city's, read by the auditor; a district sees the verification on each of its records.
    Case("registry", "GET", "/verifications", lambda r: f"/verifications?district_code={OWN}", None, CITY_AUDITOR),
    # Registrations held for the city (a district's credit code naming another district's division).
    Case("registry", "GET", "/enterprise-registrations", lambda r: "/enterprise-registrations", None, CITY_AUDITOR),
    Case("registry", "POST", "/enterprise-registrations/{registration_id}/confirm",
         lambda r: f"/enterprise-registrations/{r.new_registration()}/confirm",
         lambda r: {"reason": f"安全测试确认{serial()}"}, CITY),
    Case("registry", "POST", "/enterprise-registrations/{registration_id}/refuse",
         lambda r: f"/enterprise-registrations/{r.new_registration()}/refuse",
         lambda r: {"reason": f"安全测试拒绝{serial()}"}, CITY),
    # The gateway keeps the audit log from district keys.
    Case("registry", "GET", "/audit", lambda r: "/audit?limit=5", None, CITY_AUDITOR),
    # A cluster's yearly revenue (issue 18): written by its district or the city, verified by the city only.
    Case("registry", "PUT", "/clusters/{cluster_id}/years/{year}", lambda r: f"/clusters/{r.cluster}/years/2024",
         lambda r: {"revenue_yuan": f"{10000000000 + serial()}.00"}, OWN_WRITERS, stored=_cluster_year),
    Case("registry", "GET", "/clusters/{cluster_id}/years", lambda r: f"/clusters/{r.cluster}/years", None,
         OWN_READERS),
    Case("registry", "POST", "/clusters/{cluster_id}/years/{year}/verification",
         lambda r: f"/clusters/{r.cluster}/years/2024/verification", verification_body, CITY, stored=_decision),
    # 市级领军企业 designations: the city designates and revokes; a district reads its own enterprises'.
    Case("registry", "POST", "/leading-enterprises", lambda r: "/leading-enterprises", designation_body, CITY,
         stored=_by_id("leading-enterprises")),
    Case("registry", "GET", "/leading-enterprises", lambda r: f"/leading-enterprises?district_code={OWN}", None,
         OWN_READERS),
    Case("registry", "GET", "/leading-enterprises/{designation_id}",
         lambda r: f"/leading-enterprises/{r.designation}", None, OWN_READERS),
    Case("registry", "POST", "/leading-enterprises/{designation_id}/revocation",
         lambda r: f"/leading-enterprises/{r.new_designation()}/revocation",
         lambda r: {"reason": f"安全测试撤销{serial()}"}, CITY, stored=_revocation),
    # The whole city's monitoring figures: city and auditor (and the services), never a district key.
    Case("registry", "GET", "/monitoring-stats/{year}", lambda r: f"/monitoring-stats/{RANKED_YEAR}", None,
         CITY_AUDITOR),

    # ---- eligibility: catalogue, parameters and calculation are public; the city alone changes anything ----
    Case("eligibility", "GET", "/measures", lambda r: "/measures", None, EVERYONE),
    Case("eligibility", "GET", "/measures/{measure_id}", lambda r: "/measures/M01", None, EVERYONE),
    Case("eligibility", "GET", "/parameters", lambda r: "/parameters", None, EVERYONE),
    Case("eligibility", "GET", "/parameters/{name}", lambda r: f"/parameters/{r.parameter}", None, EVERYONE),
    # The value in force, from a day late in the term that nothing else uses: no answer of the system changes.
    Case("eligibility", "POST", "/parameters/{name}/values", lambda r: f"/parameters/{r.parameter}/values",
         lambda r: {"effective_from": r.amendment_date(), "value": r.parameter_value, "reason": "安全测试：同值续期"},
         CITY, stored=_amendment),
    Case("eligibility", "POST", "/calculate", lambda r: "/calculate", lambda r: dict(CALCULATION), EVERYONE,
         computes=True),
    Case("eligibility", "POST", "/calculate/batch", lambda r: "/calculate/batch", lambda r: [dict(CALCULATION)],
         EVERYONE, stored=_first_item, computes=True),
    # Screening and simulation compute for any key holder; a district key only over its own district.
    Case("eligibility", "POST", "/screenings", lambda r: "/screenings",
         lambda r: {"as_of": "2026-06-30", "year": 2025, "district_code": OWN}, OWN_READERS, computes=True),
    # A year's snapshot taken now, as a job (the city only): of 2024, a year the nightly screening covers (another is
    # a 422); the worker runs it in the background (its rows are the snapshots', _BACKGROUND).
    Case("eligibility", "POST", "/screenings/snapshots", lambda r: "/screenings/snapshots", lambda r: {"year": 2024},
         CITY, unwatched=True, textless=True),
    Case("eligibility", "GET", "/enterprises/{uscc}/matches", lambda r: f"/enterprises/{r.enterprise}/matches",
         None, OWN_READERS),
    Case("eligibility", "POST", "/simulations", lambda r: "/simulations",
         lambda r: {"year": 2025, "as_of": "2026-06-30", "district_code": OWN,
                    "overrides": {"m13.cap_yuan": "900000.00"}}, OWN_READERS,
         computes=True),
    Case("eligibility", "POST", "/awards", lambda r: "/awards", award_body, CITY, stored=_award),
    # Award reads: city and auditor all, a district its own district's (asking for another's is a 403).
    Case("eligibility", "GET", "/awards", lambda r: f"/awards?district_code={OWN}", None, OWN_READERS),
    Case("eligibility", "GET", "/awards/summary", lambda r: f"/awards/summary?district_code={OWN}", None,
         OWN_READERS),
    Case("eligibility", "GET", "/awards/export.csv", lambda r: f"/awards/export.csv?district_code={OWN}", None,
         OWN_READERS),
    Case("eligibility", "GET", "/awards/export.xlsx", lambda r: f"/awards/export.xlsx?district_code={OWN}", None,
         OWN_READERS),
    Case("eligibility", "GET", "/awards/{award_id}", lambda r: f"/awards/{r.award}", None, OWN_READERS),
    Case("eligibility", "POST", "/awards/{award_id}/transitions", lambda r: f"/awards/{r.new_award()}/transitions",
         lambda r: {"action": "approve", "reason": "安全测试批准"}, CITY, stored=_transition),
    # The register of policies: public reads (policy 1 is 渝发改规范〔2024〕7号, registered by the migration); the
    # city alone registers a policy.
    Case("eligibility", "GET", "/policies", lambda r: "/policies", None, EVERYONE),
    Case("eligibility", "GET", "/policies/{policy_id}", lambda r: "/policies/1", None, EVERYONE),
    Case("eligibility", "POST", "/policies", lambda r: "/policies", policy_body, CITY, stored=_policy),
    # The official working-day calendar: public reads; the city alone records a year's official schedule.
    Case("eligibility", "GET", "/calendar/{year}", lambda r: "/calendar/2025", None, EVERYONE),
    Case("eligibility", "GET", "/calendar/{year}/working-days",
         lambda r: "/calendar/2025/working-days?from=2025-09-30&days=5", None, EVERYONE),
    Case("eligibility", "PUT", "/calendar/{year}", lambda r: f"/calendar/{CALENDAR_YEAR}", calendar_body, CITY),

    # ---- ranking: the method and published rankings are public; runs are the city's, read by the auditor ----
    Case("ranking", "GET", "/methodologies", lambda r: "/methodologies", None, EVERYONE),
    Case("ranking", "POST", "/methodologies", lambda r: "/methodologies", methodology_body, CITY,
         stored=_methodology),
    Case("ranking", "GET", "/methodologies/{version}", lambda r: f"/methodologies/{r.methodology}", None, EVERYONE),
    Case("ranking", "POST", "/runs", lambda r: "/runs", lambda r: {"year": RANKED_YEAR}, CITY, stored=_run),
    # Drafts are city and auditor reading: the gateway refuses district keys, and the service does too.
    Case("ranking", "GET", "/runs", lambda r: "/runs?limit=5", None, CITY_AUDITOR),
    Case("ranking", "GET", "/runs/{run_id}", lambda r: f"/runs/{r.run}", None, CITY_AUDITOR),
    Case("ranking", "POST", "/runs/{run_id}/publish", lambda r: f"/runs/{r.new_run()}/publish",
         lambda r: {"reason": "安全测试重新发布"}, CITY, stored=_publication),
    Case("ranking", "GET", "/runs/{run_id}/sensitivity", lambda r: f"/runs/{r.run}/sensitivity?draws=50&seed=7",
         None, CITY_AUDITOR),
    Case("ranking", "GET", "/rankings/{year}", lambda r: f"/rankings/{r.ranked_year}", None, EVERYONE),
    Case("ranking", "GET", "/rankings/{year}/history", lambda r: f"/rankings/{r.ranked_year}/history", None, EVERYONE),
    Case("ranking", "GET", "/rankings/{year}/export.csv", lambda r: f"/rankings/{r.ranked_year}/export.csv", None,
         EVERYONE),
    Case("ranking", "GET", "/rankings/{year}/export.xlsx", lambda r: f"/rankings/{r.ranked_year}/export.xlsx", None,
         EVERYONE),

    # ---- monitoring: the plan's targets and published assessments are public; the city records and publishes ----
    Case("monitoring", "GET", "/plan", lambda r: "/plan", None, EVERYONE),
    Case("monitoring", "GET", "/targets", lambda r: "/targets?sector=modern_logistics", None, EVERYONE),
    Case("monitoring", "GET", "/targets/{target_id}", lambda r: "/targets/T33", None, EVERYONE),
    Case("monitoring", "GET", "/indicators", lambda r: "/indicators", None, EVERYONE),
    Case("monitoring", "GET", "/indicators/{indicator_id}", lambda r: f"/indicators/{OBSERVED}", None, EVERYONE),
    Case("monitoring", "PUT", "/indicators/{indicator_id}/observations/{year}",
         lambda r: f"/indicators/{OBSERVED}/observations/2024", observation_body, CITY, stored=_observation),
    Case("monitoring", "GET", "/indicators/{indicator_id}/observations",
         lambda r: f"/indicators/{OBSERVED}/observations", None, EVERY_KEY),
    Case("monitoring", "GET", "/indicators/{indicator_id}/observations/{year}/history",
         lambda r: f"/indicators/{OBSERVED}/observations/{MONITORED_YEAR}/history", None, EVERY_KEY),
    Case("monitoring", "GET", "/assessments/{year}", lambda r: f"/assessments/{MONITORED_YEAR}", None, EVERY_KEY),
    Case("monitoring", "GET", "/assessments/{year}/report.xlsx", lambda r: f"/assessments/{MONITORED_YEAR}/report.xlsx",
         None, EVERY_KEY),
    Case("monitoring", "GET", "/assessments/{year}/targets/{target_id}/chart.svg",
         lambda r: f"/assessments/{MONITORED_YEAR}/targets/T33/chart.svg", None, EVERY_KEY),
    Case("monitoring", "GET", "/assessments/{year}/sectors/chart.svg",
         lambda r: f"/assessments/{MONITORED_YEAR}/sectors/chart.svg", None, EVERY_KEY),
    # The map: every key holder; a district key sees other districts' small cells withheld.
    Case("monitoring", "GET", "/map/{year}", lambda r: f"/map/{MONITORED_YEAR}", None, EVERY_KEY),
    Case("monitoring", "GET", "/map/{year}/tiles.svg", lambda r: f"/map/{MONITORED_YEAR}/tiles.svg?indicator=clusters",
         None, EVERY_KEY),
    Case("monitoring", "POST", "/publications/{year}", lambda r: r.new_observation(),
         lambda r: {"reason": f"安全测试再发布{serial()}"}, CITY, stored=_monitoring_publication),
    Case("monitoring", "GET", "/publications/{year}", lambda r: f"/publications/{MONITORED_YEAR}", None, EVERYONE),
    Case("monitoring", "GET", "/publications/{year}/history", lambda r: f"/publications/{MONITORED_YEAR}/history",
         None, EVERYONE),
    Case("monitoring", "GET", "/publications/{year}/versions/{version}",
         lambda r: f"/publications/{MONITORED_YEAR}/versions/1", None, EVERYONE),

    # ---- jobs (issue 17): any key holder may ask; the service shows a district key its own district's only (another
    # district's job is a 404, not told apart from none); the auditor reads every job and cancels none ----
    *_job_cases("registry"),
    *_job_cases("eligibility"),

    # ---- notifications (issue 17): every key holder subscribes (a district key to its own district's events); a
    # subscription is managed by its district, the city and the auditor; another district is refused ----
    # Subscriptions are written in the background too (the worker's breaker counts, _BACKGROUND): their writes are
    # seen by `stored` and the answers, not by the table watch.
    Case("notifications", "POST", "/subscriptions", lambda r: "/subscriptions", subscription_body, EVERY_KEY,
         stored=_subscription, unwatched=True),
    Case("notifications", "GET", "/subscriptions", lambda r: "/subscriptions", None, EVERY_KEY),
    Case("notifications", "GET", "/subscriptions/{subscription_id}", lambda r: f"/subscriptions/{r.subscription}",
         None, OWN_READERS),
    Case("notifications", "PATCH", "/subscriptions/{subscription_id}", lambda r: f"/subscriptions/{r.subscription}",
         lambda r: {"description": f"安全矩阵改名{serial()}"}, OWN_WRITERS, stored=_subscription, unwatched=True),
    # The auditor reads every subscription and manages only its own (this one is the district's).
    OneShotCase("notifications", "DELETE", "/subscriptions/{subscription_id}",
                lambda r: f"/subscriptions/{r.new_subscription()}", None, OWN_WRITERS, unwatched=True),
    # A ping and a redelivery write to the delivery log only (_BACKGROUND).
    Case("notifications", "POST", "/subscriptions/{subscription_id}/ping",
         lambda r: f"/subscriptions/{r.subscription}/ping", None, OWN_WRITERS, unwatched=True),
    Case("notifications", "GET", "/subscriptions/{subscription_id}/deliveries",
         lambda r: f"/subscriptions/{r.subscription}/deliveries", None, OWN_READERS),
    OneShotCase("notifications", "POST", "/deliveries/{delivery_id}/redeliver",
                lambda r: f"/deliveries/{r.new_delivery()}/redeliver", None, OWN_WRITERS, unwatched=True,
                paths=lambda r, count: [f"/deliveries/{d}/redeliver" for d in r.finished_deliveries(count)]),
    # The pull feed: every key holder, a district key its own district's events (and those of no district).
    Case("notifications", "GET", "/events", lambda r: "/events?limit=50", None, EVERY_KEY),
]
# fmt: on
# The writes that take a body, for the body tests (oversized, malformed, injected): a DELETE, a ping or a redelivery
# takes none (and never reads one sent), so a malformed body there is no request of another kind; a body of a year
# only (`textless`) has no field to inject text into.
WRITE_CASES = [case for case in CASES if case.writes and case.body is not None and not case.textless]


def served_routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, /api/v1/service/template) of every operation in the merged OpenAPI document."""
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        if path.startswith(API + "/")
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def named_routes() -> set[tuple[str, str]]:
    return {(case.method, f"{API}/{case.service}{case.template}") for case in CASES}


# ---- fixtures ---------------------------------------------------------------------------------------------------


@dataclass
class World:
    stack: Stack
    keys: dict[str, list[str]]
    clients: dict[str, httpx.Client]
    records: Records
    tables: Tables
    spec: dict[str, Any]


@pytest.fixture(scope="module")
def world(stack: Stack) -> Iterator[World]:
    keys = make_caller_keys(stack)
    clients = {caller: make_client(stack.gateway, keys.get(caller)) for caller in CALLERS}
    tables = Tables(service_database_urls(stack))
    records: Records | None = None
    try:
        records = make_records(clients["city"], clients["own"])
        spec = clients["none"].get("/openapi.json").json()
        assert not spec.get("x-unavailable-services"), spec.get("x-unavailable-services")
        yield World(stack, keys, clients, records, tables, spec)
    finally:
        for client in clients.values():
            client.close()
        tables.close()
        if records is not None and records.receiver is not None:
            records.receiver.stop()
