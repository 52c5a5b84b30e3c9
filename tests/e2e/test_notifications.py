"""主动推送 end to end (issue 17): the real stack, its workers and a real receiver process (tests/receiver.py).

Each test subscribes through the gateway with a district's (or the city's) key, makes the change a district wants to
hear about through the gateway, and reads what the receiver got: signed (the receiver verifies every delivery with
the subscription's secret and answers 401 otherwise), once (no `webhook-id` twice), at the right district's endpoint
only. Other tests of the session make changes too, so each test looks at the events of its own subjects.
"""

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.keys.admin import run_in_session
from gateway.keys.service import create_key
from shared.settings import PROJECT_ROOT
from shared.uscc import make_uscc
from tests.e2e.conftest import Stack
from tests.e2e.security_support import OTHER_POLICY
from tests.stack import launch_stack
from tests.support import stop_process, wait_healthy

pytestmark = pytest.mark.e2e

API = "/api/v1"
# Districts no other end-to-end test writes into (their keys are made here): what they receive is this file's.
NORTH, SOUTH = "500112", "500113"
AWARD_PATH = ("award.proposed", "award.approved", "award.publicised", "award.paid")


class Receiver:
    """The receiver process and its control endpoints."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.control = httpx.Client(base_url=self.base, timeout=10, trust_env=False)

    def url(self, name: str) -> str:
        return f"{self.base}/hooks/{name}"

    def register(self, name: str, secret: str, fail_next: int = 0) -> None:
        response = self.control.put(f"/control/{name}", json={"secret": secret, "fail_next": fail_next})
        assert response.status_code == 200, response.text

    def got(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.control.get(f"/control/{name}").json()
        return answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    port = _free_port()
    log = tmp_path_factory.mktemp("receiver") / "receiver.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.receiver", "--port", str(port)],
            cwd=PROJECT_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", Path(log))
        yield Receiver(port)
    finally:
        stop_process(process)


def district_key(stack: Stack, district: str) -> str:
    async def work(session: AsyncSession) -> str:
        key, _ = await create_key(session, "district", district, label=f"e2e notifications {district}")
        return key

    return run_in_session(stack.gateway_db.url, work)


@pytest.fixture(scope="module")
def north(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(district_key(stack, NORTH)) as client:
        yield client


@pytest.fixture(scope="module")
def south(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client(district_key(stack, SOUTH)) as client:
        yield client


def subscribe(client: httpx.Client, receiver: Receiver, event_types: list[str], fail_next: int = 0) -> str:
    """A subscription of the caller to `event_types` at a new receiver endpoint; the endpoint's name."""
    name = uuid.uuid4().hex[:12]
    response = client.post(
        f"{API}/notifications/subscriptions", json={"url": receiver.url(name), "event_types": event_types}
    )
    assert response.status_code == 201, response.text
    receiver.register(name, response.json()["secret"], fail_next=fail_next)
    return name


def until(check: Callable[[], bool], seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {seconds} s")
        time.sleep(0.25)


def of_subject(received: dict[str, Any], subject: str) -> list[dict[str, Any]]:
    return [delivery for delivery in received["received"] if delivery["subject"] == subject]


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def new_enterprise(city: httpx.Client, district: str, **fields: Any) -> str:
    serial = uuid.uuid4().int % 10**9
    uscc = make_uscc(f"91{district}{serial:09d}")
    body = {
        "uscc": uscc,
        "name": f"推送测试企业{serial}",
        "district_code": district,
        "sector": "supply_chain",
        "established_on": "2018-03-01",
        **fields,
    }
    ok(city.post(f"{API}/registry/enterprises", json=body), 201)
    return uscc


@contextmanager
def eligibility_on(stack: Stack, day: str | None) -> Iterator[None]:
    """The eligibility service restarted with its today held at `day` (ELIGIBILITY_TODAY; None: the real date)."""
    if day is None:
        stack.env.pop("ELIGIBILITY_TODAY", None)
    else:
        stack.env["ELIGIBILITY_TODAY"] = day
    stack.stop("eligibility")
    stack.start("eligibility")
    yield


# A notice (公示) starts on the day it is published and runs some official working days: the award is publicised on
# a Monday and paid four weeks later, the eligibility service's today held at each day in turn.
PUBLICISED_ON, PAID_ON = "2026-11-02", "2026-11-30"


@dataclass
class AwardPath:
    award_id: int
    northern: str
    southern: str
    flaky: str

    @property
    def subject(self) -> str:
        return f"award:{self.award_id}"


@pytest.fixture(scope="module")
def award_path(
    stack: Stack, city: httpx.Client, north: httpx.Client, south: httpx.Client, receiver: Receiver
) -> AwardPath:
    """Subscriptions of two districts (the northern twice, its second endpoint failing its first 3 deliveries), then
    an award of the northern district under another registered policy taken through its whole path to paid."""
    types = list(AWARD_PATH)
    path = AwardPath(0, subscribe(north, receiver, types), subscribe(south, receiver, types), "")
    path.flaky = subscribe(north, receiver, types, fail_next=3)
    registered = city.post(f"{API}/eligibility/policies", json=OTHER_POLICY)
    assert registered.status_code in (201, 409), registered.text
    uscc = new_enterprise(city, NORTH)
    body = {
        "policy": OTHER_POLICY["document_number"],
        "recipient_kind": "enterprise",
        "measure_id": "第三十二条",
        "subject_type": "enterprise",
        "subject_id": uscc,
        "amount_yuan": "100000.00",
    }
    try:
        with eligibility_on(stack, PUBLICISED_ON):
            path.award_id = int(ok(city.post(f"{API}/eligibility/awards", json=body), 201)["id"])
            for action in ("approve", "publicise"):
                ok(city.post(f"{API}/eligibility/awards/{path.award_id}/transitions", json={"action": action}))
        with eligibility_on(stack, PAID_ON):
            paid = ok(city.post(f"{API}/eligibility/awards/{path.award_id}/transitions", json={"action": "pay"}))
            assert paid["status"] == "paid", paid
    finally:
        with eligibility_on(stack, None):
            pass
    return path


def test_an_awards_path_to_paid_reaches_its_districts_endpoint_signed_once_and_in_order(
    award_path: AwardPath, receiver: Receiver
) -> None:
    until(lambda: len(of_subject(receiver.got(award_path.northern), award_path.subject)) >= len(AWARD_PATH))
    time.sleep(2.0)  # a duplicate, or a delivery to the wrong district, would have arrived by now
    got = receiver.got(award_path.northern)
    deliveries = of_subject(got, award_path.subject)
    assert [delivery["type"] for delivery in deliveries] == list(AWARD_PATH)
    assert not any(delivery["duplicate"] for delivery in deliveries)
    assert {delivery["district_code"] for delivery in deliveries} == {NORTH}
    assert deliveries[-1]["event"]["data"]["links"]["self"] == f"{API}/eligibility/awards/{award_path.award_id}"
    assert (got["rejected"], got["failed"]) == (0, 0)
    # Another district's endpoint receives nothing of it, nor of any district but its own.
    southern = receiver.got(award_path.southern)
    assert of_subject(southern, award_path.subject) == []
    assert {delivery["district_code"] for delivery in southern["received"]} <= {SOUTH}


def test_a_receiver_failing_three_times_then_recovering_gets_every_event_in_order(
    award_path: AwardPath, receiver: Receiver
) -> None:
    until(lambda: len(of_subject(receiver.got(award_path.flaky), award_path.subject)) >= len(AWARD_PATH), seconds=120)
    time.sleep(2.0)
    got = receiver.got(award_path.flaky)
    assert got["failed"] == 3
    deliveries = of_subject(got, award_path.subject)
    assert [delivery["type"] for delivery in deliveries] == list(AWARD_PATH)
    assert not any(delivery["duplicate"] for delivery in deliveries)


def snapshot(city: httpx.Client, year: int) -> dict[str, Any]:
    """The year's nightly screening snapshot, taken now by the eligibility worker; its outcome."""
    accepted = ok(city.post(f"{API}/eligibility/screenings/snapshots", json={"year": year}), 202)
    location = f"{API}/eligibility/jobs/{accepted['id']}"
    until(lambda: ok(city.get(location))["status"] in ("succeeded", "failed", "cancelled"), seconds=120)
    job = ok(city.get(location))
    assert job["status"] == "succeeded", job
    return ok(city.get(job["result_url"]))


def test_a_newly_eligible_enterprise_reaches_its_districts_endpoint(
    city: httpx.Client, north: httpx.Client, south: httpx.Client, receiver: Receiver
) -> None:
    northern = subscribe(north, receiver, ["enterprise.newly_eligible"])
    southern = subscribe(south, receiver, ["enterprise.newly_eligible"])
    snapshot(city, 2025)  # what the registry holds now: the enterprise below is not in it
    # 第（七）条: a manufacturer's spin-off with revenue of at least 20,000,000 in the year qualifies (M07b).
    spun_off_on = "2024-11-19"
    parent = make_uscc(f"91{NORTH}{uuid.uuid4().int % 10**9:09d}")
    uscc = new_enterprise(
        city,
        NORTH,
        established_on=spun_off_on,
        spun_off_from_manufacturer=True,
        parent_uscc=parent,
        spun_off_on=spun_off_on,
    )
    figures = {"revenue_yuan": "25000000.00", "employees": 80, "above_scale": True, "top500_service": False}
    response = city.put(f"{API}/registry/enterprises/{uscc}/years/2025", json=figures)
    assert response.status_code in (200, 201), response.text
    assert snapshot(city, 2025)["newly_eligible"] >= 1
    subject = f"enterprise:{uscc}"
    until(lambda: bool(of_subject(receiver.got(northern), subject)))
    snapshot(city, 2025)  # eligible still: no second event
    time.sleep(2.0)
    deliveries = of_subject(receiver.got(northern), subject)
    assert [(d["type"], d["event"]["data"]["measure_id"]) for d in deliveries] == [
        ("enterprise.newly_eligible", "M07b")
    ]
    assert deliveries[0]["event"]["data"]["amount_yuan"] == "1000000.00"
    assert of_subject(receiver.got(southern), subject) == []


def test_a_ranking_publication_reaches_each_districts_endpoint_with_its_own_rank(
    stack: Stack, city: httpx.Client, north: httpx.Client, south: httpx.Client, receiver: Receiver
) -> None:
    types = ["ranking.published", "ranking.republished"]
    northern = subscribe(north, receiver, types)
    southern = subscribe(south, receiver, types)
    everyone = subscribe(city, receiver, types)
    # The district has figures for 2024 and 2025 (the growth a ranking of 2025 reads); a run of 2025, published (a
    # republication if another test of the session published first).
    uscc = new_enterprise(city, NORTH)
    for year, revenue in ((2024, "20000000.00"), (2025, "26000000.00")):
        figures = {"revenue_yuan": revenue, "employees": 80, "above_scale": True}
        assert city.put(f"{API}/registry/enterprises/{uscc}/years/{year}", json=figures).status_code in (200, 201)
    run_id = int(ok(city.post(f"{API}/ranking/runs", json={"year": 2025}), 201)["run_id"])
    ok(city.post(f"{API}/ranking/runs/{run_id}/publish", json={"reason": "推送测试发布"}))

    def of_run(name: str) -> list[dict[str, Any]]:
        return [d for d in receiver.got(name)["received"] if d["event"]["data"]["run_id"] == run_id]

    until(lambda: len(of_run(everyone)) >= 38 and len(of_run(northern)) >= 1 and len(of_run(southern)) >= 1)
    time.sleep(2.0)
    assert [d["district_code"] for d in of_run(northern)] == [NORTH]
    assert [d["district_code"] for d in of_run(southern)] == [SOUTH]
    assert len(of_run(everyone)) == 38
    assert len({d["district_code"] for d in of_run(everyone)}) == 38
    ranking = ok(city.get(f"{API}/ranking/rankings/2025"))
    north_rank = next(row["rank"] for row in ranking["rows"] if row["district_code"] == NORTH)
    assert of_run(northern)[0]["event"]["data"]["rank"] == north_rank


@pytest.fixture(scope="module")
def import_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own (the registry, its worker, the gateway): the 30,000 enterprises imported below would
    otherwise weigh on every later test of the session's stack (its screenings, its ranking's quality gate)."""
    env = {
        f"REGISTRY_WORKER_{name}": value for name, value in (("HEARTBEAT_SECONDS", "1"), ("STALLED_AFTER_SECONDS", "3"))
    }
    with launch_stack(tmp_path_factory.mktemp("import-logs"), env, services=["registry"], workers=["registry"]) as made:
        yield made


def test_the_import_worker_killed_mid_import_resumes_without_duplicates(import_stack: Stack) -> None:
    stack = import_stack
    rows = 30_000
    mark = uuid.uuid4().hex[:6]
    header = "uscc,name,district_code,sector,established_on,year,revenue_yuan,employees,above_scale"
    offset = uuid.uuid4().int % 10**9  # distinct credit codes: consecutive serials from a random start
    lines = [header] + [
        f"{make_uscc(f'91{SOUTH}{(offset + n) % 10**9:09d}')},推送导入{mark}{n},{SOUTH},modern_logistics,"
        f"2018-03-01,2024,{21000000 + n}.00,80,是"
        for n in range(rows)
    ]
    body = ("\n".join(lines) + "\n").encode()
    with stack.client(stack.keys["city"]) as city:
        response = city.post(
            f"{API}/registry/enterprises/import",
            content=body,
            headers={"content-type": "text/csv", "prefer": "respond-async", "idempotency-key": f"e2e-{mark}"},
        )
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        assert location.startswith(f"{API}/registry/jobs/")

        def job() -> dict[str, Any]:
            return ok(city.get(location))

        until(lambda: job()["status"] == "running" and job()["progress"]["done"] > 0, seconds=60)
        stack.kill("registry-worker")
        stack.start("registry-worker")
        until(lambda: job()["status"] in ("succeeded", "failed"), seconds=180)
        finished = job()
        assert finished["status"] == "succeeded", finished
        assert finished["progress"] == {"done": rows, "total": rows}
        report = ok(city.get(finished["result_url"]))
    assert (report["rows"], report["created"], report["rejected"]) == (rows, rows, [])
    # Counted in the registry's own database: every row once, none twice.
    assert _count(stack, "SELECT count(*) FROM enterprises WHERE name LIKE $1", f"推送导入{mark}%") == rows
    assert _count(stack, "SELECT count(DISTINCT uscc) FROM enterprises WHERE name LIKE $1", f"推送导入{mark}%") == rows


def _count(stack: Stack, query: str, *args: Any) -> int:
    url = make_url(stack.databases["registry"].url)

    async def run() -> int:
        connection = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
        )
        try:
            return int(await connection.fetchval(query, *args))
        finally:
            await connection.close()

    return asyncio.run(run())
