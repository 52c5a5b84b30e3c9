"""The whole path as the runtime role the migrate step grants (shared/privileges.py): the app and the worker need
nothing more (relay, deliveries, pause, resume, delete, the feed), and the role cannot rewrite the log."""

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.notifications import SERVICE_DIR as NOTIFICATIONS_DIR
from services.notifications.main import create_app
from shared.migrations import upgrade
from tests.notifications.conftest import Feed, Receiver, make_event, notifications_settings, running_worker
from tests.notifications.test_delivery import subscribe, until
from tests.support import CITY, TestDatabase, asgi_client, district


@pytest.fixture(scope="module")
def runtime_url() -> Iterator[str]:
    database = TestDatabase("notifications_runtime", NOTIFICATIONS_DIR)
    role, password = f"test_notifications_app_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    database._admin_execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
    try:
        database._admin_execute(f'CREATE DATABASE "{database.name}"')
        upgrade(NOTIFICATIONS_DIR, database.url, runtime_role=role)
        yield make_url(database.url).set(username=role, password=password).render_as_string(hide_password=False)
    finally:
        database.drop()
        database._admin_execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
async def runtime_app(runtime_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(notifications_settings(runtime_url))
    async with app.router.lifespan_context(app):
        yield app


async def test_the_runtime_role_runs_the_service_and_cannot_rewrite_the_log(
    runtime_url: str, runtime_app: FastAPI, receiver: Receiver
):
    city = asgi_client(runtime_app, CITY)
    subscription = await subscribe(city, receiver.hook(), "award.proposed")
    feed = Feed()
    feed.add(make_event(subject="award:1"))
    settings = notifications_settings(runtime_url)
    path = f"/subscriptions/{subscription['id']}"
    async with running_worker(settings, {"eligibility": feed}):
        await receiver.wait_for(1)
        assert (await city.patch(path, json={"status": "paused"})).status_code == 200
        feed.add(make_event(subject="award:2"))

        async def held() -> bool:
            page = (await city.get(f"{path}/deliveries", params={"status": "held"})).json()
            return bool(page["items"])

        await until(held)
        assert (await city.patch(path, json={"status": "active"})).status_code == 200
        await receiver.wait_for(2)
        assert (await city.post(f"{path}/ping")).status_code == 202
        await receiver.wait_for(3)
    assert len((await asgi_client(runtime_app, district("500103")).get("/events")).json()["items"]) == 2
    assert (await city.delete(path)).status_code == 204
    url = make_url(runtime_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        for statement in (
            "UPDATE events SET subject = 'x'",
            "DELETE FROM delivery_attempts",
            "DELETE FROM subscriptions",
            "DELETE FROM deliveries",
            "TRUNCATE events",
            "ALTER TABLE events DISABLE TRIGGER events_append_only",
        ):
            with pytest.raises(asyncpg.PostgresError):
                await connection.execute(statement)
    finally:
        await connection.close()
