"""Every listing of the five services takes its cursor through shared.pagination: a cursor no page issued is a
422 problem naming `cursor`, before the service or the database sees it (a crafted one was a 500 on /audit)."""

import base64
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI

from services.eligibility.main import create_app as create_eligibility_app
from services.eligibility.settings import EligibilitySettings
from services.monitoring import SERVICE_DIR as MONITORING_DIR
from services.monitoring.main import create_app as create_monitoring_app
from services.monitoring.settings import MonitoringSettings
from services.notifications import SERVICE_DIR as NOTIFICATIONS_DIR
from services.notifications.main import create_app as create_notifications_app
from services.notifications.settings import NotificationsSettings
from services.ranking import SERVICE_DIR as RANKING_DIR
from services.ranking.main import create_app as create_ranking_app
from services.ranking.settings import RankingSettings
from shared.pagination import encode_cursor
from tests.registry.factories import enterprise, year_figures
from tests.support import CITY, REGISTRY_TABLES, TestDatabase, asgi_client, district, truncate

# Each listing and the kind of key its cursor carries.
LISTINGS = {
    "registry": {
        "/audit": "bigint",
        "/enterprises": "text",
        "/clusters": "integer",
        "/buildings": "integer",
        "/projects": "integer",
        "/enterprise-registrations": "integer",
        "/verifications": "record and id",
        "/leading-enterprises": "integer",
    },
    "eligibility": {"/policies": "bigint", "/awards": "bigint"},
    "ranking": {"/runs": "integer"},
    "monitoring": {"/indicators/{indicator_id}/observations": "year and period"},
    "notifications": {
        "/subscriptions": "bigint",
        "/subscriptions/{subscription_id}/deliveries": "bigint",
        "/events": "txid and seq",
    },
}
# A listing under a path parameter is called at one real path (`{subscription_id}`: the one the apps fixture makes).
CONCRETE = {
    "/indicators/{indicator_id}/observations": "/indicators/modern_logistics.logistics_cost_share_of_gdp/observations",
    "/subscriptions/{subscription_id}/deliveries": "/subscriptions/{subscription_id}/deliveries",
}


def raw(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


COMMON = [
    "!!!",  # not base64url
    raw(b"\xff\xfe"),  # not UTF-8
    raw(b"{"),  # not JSON
    raw(b"[" * 300),  # nested deeper than the parser goes (and within the 512 characters a cursor may have)
    encode_cursor(None),
    encode_cursor({"id": 1}),
    encode_cursor(1.5),
    encode_cursor(True),
]
BY_KIND = {
    "bigint": ["abc", 0, -1, 2**63, [1]],
    "integer": ["abc", 0, 2**31, [1]],
    "text": [7, "a\x00b", "x" * 65, ["9150"]],
    "year and period": [[2024], [2024, "Q5"], ["2024", "year"], [2024, "year", 1], 2024],
    "record and id": [["enterprise_year"], ["no_such_record", "1"], ["project", 1], ["project", "a\x00b"], "project"],
    # The events feed's position: (txid, seq), each within its bigint column, seq from 1.
    "txid and seq": [[1], [1, 0], [-1, 1], [1, 2**63], [2**63, 1], [1, "a"], [1, 2, 3], "1.2", 5],
}


@pytest.fixture(scope="module")
def ranking_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("ranking", RANKING_DIR).lifecycle()


@pytest.fixture(scope="module")
def monitoring_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("monitoring", MONITORING_DIR).lifecycle()


@pytest.fixture(scope="module")
def notifications_database() -> Iterator[TestDatabase]:
    yield from TestDatabase("notifications", NOTIFICATIONS_DIR).lifecycle()


@pytest.fixture(scope="module")
async def apps(
    registry_app: FastAPI,
    eligibility_database: TestDatabase,
    ranking_database: TestDatabase,
    monitoring_database: TestDatabase,
    notifications_database: TestDatabase,
) -> AsyncIterator[dict[str, FastAPI]]:
    # Listing reads only their own database: no upstream is reached, so the clients' default addresses do.
    eligibility = create_eligibility_app(EligibilitySettings(database_url=eligibility_database.url, environment="test"))
    ranking = create_ranking_app(RankingSettings(database_url=ranking_database.url, environment="test"))
    monitoring = create_monitoring_app(MonitoringSettings(database_url=monitoring_database.url, environment="test"))
    # A subscription's endpoint on the loopback: allowed here as in the tests' stack.
    notifications = create_notifications_app(
        NotificationsSettings(
            database_url=notifications_database.url, environment="test", allowed_networks=["127.0.0.0/8"]
        )
    )
    async with (
        eligibility.router.lifespan_context(eligibility),
        ranking.router.lifespan_context(ranking),
        monitoring.router.lifespan_context(monitoring),
        notifications.router.lifespan_context(notifications),
    ):
        yield {
            "registry": registry_app,
            "eligibility": eligibility,
            "ranking": ranking,
            "monitoring": monitoring,
            "notifications": notifications,
        }


@pytest.fixture(scope="module")
async def subscription_id(apps: dict[str, FastAPI]) -> int:
    """A subscription of the city's, whose deliveries listing the crafted cursors are sent to."""
    body = {"url": "http://127.0.0.1:9/hooks/cursors", "event_types": ["award.paid"]}
    made = await asgi_client(apps["notifications"], CITY).post("/subscriptions", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_every_listing_with_a_cursor_is_named_here(apps: dict[str, FastAPI]) -> None:
    for service, app in apps.items():
        paged = {
            path
            for path, item in app.openapi()["paths"].items()
            if any(parameter["name"] == "cursor" for parameter in item.get("get", {}).get("parameters", []))
        }
        assert paged == set(LISTINGS[service]), service


@pytest.mark.parametrize(
    ("service", "path", "kind"),
    [(service, path, kind) for service, paths in LISTINGS.items() for path, kind in paths.items()],
)
async def test_a_crafted_cursor_is_a_422_problem_naming_the_cursor(
    apps: dict[str, FastAPI], subscription_id: int, service: str, path: str, kind: str
) -> None:
    client = asgi_client(apps[service], CITY)
    path = CONCRETE.get(path, path).replace("{subscription_id}", str(subscription_id))
    for cursor in [*COMMON, *(encode_cursor(key) for key in BY_KIND[kind])]:
        response = await client.get(path, params={"cursor": cursor})
        assert response.status_code == 422, (path, cursor, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [{"loc": ["query", "cursor"], "msg": "invalid cursor"}], (path, cursor)
    assert (await client.get(path, params={"limit": 1})).status_code == 200


async def test_the_next_cursor_of_each_kind_is_accepted(registry_app: FastAPI) -> None:
    district_key = asgi_client(registry_app, district("500103"))
    try:
        for _ in range(2):
            body = enterprise("500103")
            assert (await district_key.post("/enterprises", json=body)).status_code == 201
            put = await district_key.put(f"/enterprises/{body['uscc']}/years/2025", json=year_figures())
            assert put.status_code == 201, put.text
        city = asgi_client(registry_app, CITY)
        # A credit code (enterprises), an id (the audit log, newest first), a record kind and id (the queue).
        for path, key in (("/enterprises", "uscc"), ("/audit", "id"), ("/verifications", "id")):
            first = (await city.get(path, params={"limit": 1})).json()
            assert len(first["items"]) == 1 and first["next_cursor"], path
            second = await city.get(path, params={"limit": 1, "cursor": first["next_cursor"]})
            assert second.status_code == 200, (path, second.text)
            [item] = second.json()["items"]
            assert item[key] != first["items"][0][key], path
    finally:
        await truncate(registry_app, REGISTRY_TABLES)
