"""`python -m services.notifications.worker` as its own process: it delivers (a ping here), touches its health
file, and stops on SIGTERM."""

import asyncio
import os
import signal
import sys
from pathlib import Path

from standardwebhooks import Webhook

from services.notifications.metrics import DELIVERIES, RELAY_LAG
from shared.settings import PROJECT_ROOT
from tests.notifications.conftest import Receiver
from tests.notifications.test_delivery import subscribe
from tests.support import CITY


def worker_env(database_url: str, health: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NOTIFICATIONS_DATABASE_URL": database_url,
        "NOTIFICATIONS_ENVIRONMENT": "test",
        "NOTIFICATIONS_ALLOWED_NETWORKS": "127.0.0.0/8",
        "NOTIFICATIONS_WORKER_POLL_SECONDS": "0.2",
        "NOTIFICATIONS_WORKER_HEARTBEAT_SECONDS": "0.5",
        # No producer answers here: the relay logs it and keeps going.
        "NOTIFICATIONS_REGISTRY_URL": "http://127.0.0.1:9",
        "NOTIFICATIONS_ELIGIBILITY_URL": "http://127.0.0.1:9",
        "NOTIFICATIONS_RANKING_URL": "http://127.0.0.1:9",
        "NOTIFICATIONS_UPSTREAM_RETRIES": "0",
        "NOTIFICATIONS_LOG_LEVEL": "WARNING",
        "NOTIFICATIONS_WORKER_STALLED_AFTER_SECONDS": "2",
        "WORKER_HEALTH_FILE": str(health),
    }


async def start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.notifications.worker",
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_the_worker_process_delivers_and_stops_on_sigterm(
    client_for, receiver: Receiver, notifications_database, notifications_app, tmp_path: Path
):
    subscription = await subscribe(client_for(CITY), receiver.hook(), "award.paid")
    health = tmp_path / "health"
    process = await start_worker(worker_env(notifications_database.url, health))
    try:
        ping = await client_for(CITY).post(f"/subscriptions/{subscription['id']}/ping")
        assert ping.status_code == 202
        (received,) = await receiver.wait_for(1, within=30)
        assert Webhook(subscription["secret"]).verify(received.body, received.headers)["type"] == "webhook.ping"
        for _ in range(100):
            if health.exists():
                break
            await asyncio.sleep(0.1)
        assert health.exists()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(40):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    async with notifications_app.state.sessionmaker() as session:
        counts = await DELIVERIES.read(session)
        lag = await RELAY_LAG.read(session)
    assert counts[("succeeded",)] == 1 and counts[("dead",)] == 0 and len(counts) == 6
    assert set(lag) == {("registry",), ("eligibility",), ("ranking",)}


async def test_the_service_metrics_name_the_queue_the_deliveries_and_the_relay(client_for):
    text = (await client_for(None).get("/metrics")).text
    for family in ("service_queue_jobs", "notifications_deliveries", "notifications_relay_lag_seconds"):
        assert f"# TYPE {family} gauge" in text
    assert 'notifications_deliveries{status="dead"}' in text


async def test_a_delivery_cut_off_by_a_killed_worker_is_made_by_the_next(
    client_for, receiver: Receiver, notifications_database, notifications_app, tmp_path: Path
):
    """At least once: the worker dies (SIGKILL) while the endpoint is answering; the next worker finds the job of
    the dead one (its heartbeat stopped) and delivers it, under the same webhook-id."""
    subscription = await subscribe(client_for(CITY), receiver.hook(), "award.paid")
    env = worker_env(notifications_database.url, tmp_path / "health")
    receiver.delay["/hook"] = 30
    first = await start_worker(env)
    try:
        ping = await client_for(CITY).post(f"/subscriptions/{subscription['id']}/ping")
        assert ping.status_code == 202
        for _ in range(300):
            if receiver.arrived:
                break
            await asyncio.sleep(0.1)
        assert receiver.arrived == ["/hook"]
        first.kill()
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    receiver.delay.clear()
    second = await start_worker(env)
    try:
        (received,) = await receiver.wait_for(1, within=40)
        assert received.headers["webhook-id"] == ping.json()["event_id"]
    finally:
        second.send_signal(signal.SIGTERM)
        async with asyncio.timeout(40):
            await second.wait()
