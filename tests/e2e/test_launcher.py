"""`make run` itself: `python -m deploy.run_local` migrates, starts every present service, every present worker and
the gateway, makes the demo keys, seeds demo data through the API, and stops everything together on SIGTERM."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from deploy.run_local import present_services, present_workers
from deploy.seed_demo import seed_if_empty
from gateway import GATEWAY_DIR
from gateway.settings import SERVICE_NAMES
from shared.reference import DISTRICT_CODES
from shared.settings import PROJECT_ROOT
from tests.support import TestDatabase

pytestmark = pytest.mark.e2e


def port_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def listening(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_run() -> int:
    """A base port b with b..b+n free: the gateway on b, the n services on b+1..b+n (in the order of SERVICE_NAMES)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        if all(port_free(base + offset) for offset in range(1 + len(SERVICE_NAMES))):
            return base
    raise RuntimeError(f"no {1 + len(SERVICE_NAMES)} consecutive free ports")


def workers_of(keys_file: Path) -> dict[int, str]:
    """The worker processes of this run (pid → the module it runs), found by the run's own DEMO_KEYS_FILE in their
    environment: no other process on the machine is counted."""
    found: dict[int, str] = {}
    marker = f"DEMO_KEYS_FILE={keys_file}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours
            continue
        if marker in environment and b"-m" in command:
            module = command[command.index(b"-m") + 1].decode()
            if module.startswith("services.") and module.endswith(".worker"):
                found[int(entry.name)] = module
    return found


@pytest.fixture
def databases() -> Iterator[dict[str, TestDatabase]]:
    made: dict[str, TestDatabase] = {}
    for name in present_services():
        if (PROJECT_ROOT / "services" / name / "alembic.ini").is_file():
            made[name] = TestDatabase(f"run_{name}", PROJECT_ROOT / "services" / name)
    made["gateway"] = TestDatabase("run_gateway", GATEWAY_DIR)
    for database in made.values():
        database._admin_execute(f'CREATE DATABASE "{database.name}"')  # the launcher migrates them itself
    yield made
    for database in made.values():
        database.drop()


def test_run_local_starts_seeds_and_stops_everything(databases: dict[str, TestDatabase], tmp_path: Path) -> None:
    base = free_run()
    keys_file = tmp_path / "demo-keys.json"
    env = {
        **os.environ,
        "DEMO_KEYS_FILE": str(keys_file),
        "SEED_DEMO": "1",
        **{f"{name.upper()}_DATABASE_URL": database.url for name, database in databases.items()},
    }
    log = (tmp_path / "run.log").open("wb")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.run_local", "--gateway-port", str(base), "--first-service-port", str(base + 1)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gateway = f"http://127.0.0.1:{base}"
    try:
        deadline = time.monotonic() + 120
        while "run_local: ready." not in (tmp_path / "run.log").read_text(errors="replace"):
            assert launcher.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the stack did not come up"
            time.sleep(0.3)
        output = (tmp_path / "run.log").read_text(errors="replace")
        assert "demo data seeded" in output
        # One worker process per present worker module, each started by the launcher, all running.
        workers = present_workers()
        for name in workers:
            assert f"run_local: starting {name}-worker: services.{name}.worker" in output
        assert sorted(workers_of(keys_file).values()) == sorted(f"services.{name}.worker" for name in workers)

        keys = json.loads(keys_file.read_text())
        assert set(keys) == {"city", "auditor", "districts"}
        assert set(keys["districts"]) == DISTRICT_CODES
        assert keys_file.stat().st_mode & 0o777 == 0o600
        with httpx.Client(base_url=gateway, timeout=30, trust_env=False) as client:
            city = {"Authorization": f"Bearer {keys['city']}"}
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert set(ready.json()["checks"]) >= {"database", *present_services()}
            total, cursor = 0, None
            while True:
                page = client.get(
                    "/api/v1/registry/enterprises",
                    params={"limit": 500, "cursor": cursor} if cursor else {"limit": 500},
                    headers=city,
                ).json()
                total += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            assert total == 320
            for path in ("/clusters", "/buildings", "/projects"):
                assert client.get(f"/api/v1/registry{path}", headers=city).json()["items"], path
            stats = client.get("/api/v1/registry/district-stats/2025", headers=city)
            assert stats.status_code == 200
            yuzhong = {"Authorization": f"Bearer {keys['districts']['500103']}"}
            own = client.get("/api/v1/registry/enterprises", params={"limit": 500}, headers=yuzhong).json()["items"]
            assert own and {item["district_code"] for item in own} == {"500103"}
            auditor = {"Authorization": f"Bearer {keys['auditor']}"}
            assert client.get("/api/v1/registry/audit", headers=auditor).status_code == 200
            # The monitoring: the demo's observations and the registry's figures give the 2025 assessment values.
            assessment = client.get("/api/v1/monitoring/assessments/2025", headers=auditor)
            assert assessment.status_code == 200, assessment.text
            values = {row["target_id"]: row["value"] for row in assessment.json()["targets"]}
            assert values["T33"] is not None and values["T02"] is not None and values["T04"] is not None
            if "notifications" in present_services():
                subscriptions = client.get("/api/v1/notifications/subscriptions", headers=yuzhong)
                assert subscriptions.status_code == 200, subscriptions.text
            # The registry is no longer empty: seeding again does nothing.
            assert "nothing seeded" in seed_if_empty(gateway, keys["city"])
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=30)
        log.close()
    assert code == 0
    output = (tmp_path / "run.log").read_text()
    assert "stopping gateway" in output
    for name in present_workers():
        assert f"stopping {name}-worker" in output
    # Every process is gone: nothing listens on the gateway's or the services' ports, and no worker is left.
    time.sleep(0.2)
    assert not any(listening(base + offset) for offset in range(1 + len(SERVICE_NAMES)))
    assert workers_of(keys_file) == {}
