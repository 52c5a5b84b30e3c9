"""Every producer records its events with the change, exactly once per change, and none when the change is refused:
registry `figures.verified`, eligibility `award.*` and `parameter.amended`, ranking `ranking.(re)published`."""

import re
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gateway.access import rule_for
from shared.auth import Role
from shared.events import PUBLIC_PREFIX, Event, EventType
from tests.eligibility.awards_support import (
    OTHER_POLICY,
    TODAY,
    other_policy,
    pay,
    propose,
    register_other_policy,
    step,
)
from tests.eligibility.scenario import enterprise as eligibility_enterprise
from tests.eligibility.scenario import project
from tests.events.conftest import of_type, outbox
from tests.ranking.scenario import by_code, seed
from tests.registry.factories import enterprise, year_figures
from tests.support import CITY, asgi_client, district

YUZHONG = "500103"


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str]]:
    return [(event["type"], event["district_code"], event["subject"]) for event in events]


async def served(app: FastAPI, count: int) -> list[dict[str, Any]]:
    """The feed's events once every one the outbox holds is served (the horizon is the cluster's, see test_outbox)."""
    from tests.events.test_outbox import served_when

    events = await served_when(app, count)
    for event in events:
        Event.model_validate(event)
    return events


# ---- registry: figures.verified -------------------------------------------------------------------------------


@pytest.fixture
def registry_city(registry_app: FastAPI) -> httpx.AsyncClient:
    return asgi_client(registry_app, CITY)


async def submitted_figures(city: httpx.AsyncClient, registry_app: FastAPI) -> dict[str, str]:
    """Records of every verified kind in 渝中区, written by the district (so submitted); their ids."""
    yuzhong = asgi_client(registry_app, district(YUZHONG))
    ids: dict[str, str] = {}
    usccs = []
    for _ in range(2):
        body = enterprise(YUZHONG)
        assert (await city.post("/enterprises", json=body)).status_code == 201
        uscc = str(body["uscc"])
        assert (await yuzhong.put(f"/enterprises/{uscc}/years/2025", json=year_figures())).status_code == 201
        usccs.append(uscc)
    ids["enterprise_year"], ids["enterprise_year_2"] = (f"{uscc}/2025" for uscc in usccs)
    cluster = (await yuzhong.post("/clusters", json={"name": "渝中集聚区", "district_code": YUZHONG})).json()["id"]
    grade = {"grade": "A", "score": "90", "tier": 1}
    assert (await yuzhong.put(f"/clusters/{cluster}/evaluations/2025", json=grade)).status_code == 201
    assert (await yuzhong.put(f"/clusters/{cluster}/years/2025", json={"revenue_yuan": "8000000"})).status_code == 201
    building_body = {"name": "解放碑大厦", "district_code": YUZHONG, "stars": 5, "operator_uscc": usccs[0]}
    building = (await yuzhong.post("/buildings", json=building_body)).json()["id"]
    assert (await yuzhong.put(f"/buildings/{building}/years/2025", json={"revenue_yuan": "9000000"})).status_code == 201
    ids |= {
        "cluster_evaluation": f"{cluster}/2025",
        "cluster_year": f"{cluster}/2025",
        "building": str(building),
        "building_year": f"{building}/2025",
    }
    return ids


# Where the registry's events link to, by event type and record: a route of the registry's own app (the gateway serves
# it under /api/v1/registry) that answers GET with the subject's yearly figures, each year with its verification. A
# yearly figures row has no GET of its own (`…/years/{year}` is PUT only): the link is the subject's record.
REGISTRY_EVENT_LINKS: dict[EventType, dict[str, str]] = {
    EventType.FIGURES_VERIFIED: {
        "enterprise_year": "/enterprises/{uscc}",  # getEnterprise: the enterprise with its `years`
        "cluster_year": "/clusters/{cluster_id}/years",  # listClusterYears: `years`
        "building_year": "/buildings/{building_id}",  # getBuilding: the building with its `years`
    },
}
REGISTRY_PUBLIC_PREFIX = f"{PUBLIC_PREFIX}/registry"


def test_every_registry_event_links_to_a_route_that_answers_get(registry_app: FastAPI):
    paths = registry_app.openapi()["paths"]
    for event_type, routes in REGISTRY_EVENT_LINKS.items():
        for record, route in routes.items():
            assert "get" in paths.get(route, {}), (event_type, record, route, sorted(paths.get(route, {})))
            rule = rule_for("registry", "GET", route)  # the gateway lets the event's readers in
            assert rule is not None and {Role.DISTRICT, Role.CITY, Role.AUDITOR} <= rule.roles, route


def link_route(event: dict[str, Any]) -> str:
    """The app path `links.self` names, checked to be the route of its event type and record."""
    link = str(event["data"]["links"]["self"])
    assert link.startswith(f"{REGISTRY_PUBLIC_PREFIX}/"), link
    path = link.removeprefix(REGISTRY_PUBLIC_PREFIX)
    route = REGISTRY_EVENT_LINKS[EventType(event["type"])][event["data"]["record"]]
    assert re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", route), path), (path, route)
    return path


async def the_year_behind_the_link(registry_app: FastAPI, event: dict[str, Any]) -> dict[str, Any]:
    """GET `links.self` as the event's district reads it (and the city): the year the event concerns, as shown."""
    path = link_route(event)
    for principal in (district(event["district_code"]), CITY):
        response = await asgi_client(registry_app, principal).get(path)
        assert response.status_code == 200, (path, response.text)
    (year,) = [item for item in response.json()["years"] if item["year"] == event["data"]["year"]]
    return dict(year)


async def assert_the_link_shows_the_verified_figures(registry_app: FastAPI, event: dict[str, Any]) -> None:
    data = event["data"]
    year = await the_year_behind_the_link(registry_app, event)
    verification = year.pop("verification")
    assert verification["status"] == "verified"
    assert (data["verified_by"], data["submitted_by"]) == (verification["verified_by"], verification["submitted_by"])
    at = datetime.fromisoformat(data["verified_at"])
    assert at == datetime.fromisoformat(verification["verified_at"]) == Event.model_validate(event).occurred_at
    year.pop("district_code", None)  # an enterprise's year names its district: the event's `district_code`
    assert {name: data[name] for name in year} == year  # every figure the record shows, as it shows it


async def test_verifying_yearly_figures_records_one_event_per_row(registry_app, registry_city):
    city = registry_city
    ids = await submitted_figures(city, registry_app)
    assert await outbox(registry_app) == []  # writes by the district: nothing verified yet
    uscc = ids["enterprise_year"].split("/")[0]

    # A rejection is no verification; a refused decision writes nothing.
    rejected = await city.post(
        f"/enterprises/{uscc}/years/2025/verification", json={"decision": "reject", "reason": "核对营业收入"}
    )
    assert rejected.status_code == 200
    refused = await city.post(f"/enterprises/{uscc}/years/2025/verification", json={"decision": "reject"})
    assert refused.status_code == 422
    assert await outbox(registry_app) == []

    # One verified: one event, for the enterprise's district.
    single = await city.post(f"/enterprises/{uscc}/years/2025/verification", json={"decision": "verify"})
    assert single.status_code == 200, single.text
    # Verified again: unchanged, no event.
    assert (await city.post(f"/enterprises/{uscc}/years/2025/verification", json={"decision": "verify"})).json()
    events = await served(registry_app, 1)
    assert summary(events) == [("figures.verified", YUZHONG, f"enterprise:{uscc}")]
    data = events[0]["data"]
    assert data["links"] == {"self": f"/api/v1/registry/enterprises/{uscc}"}
    assert (data["subject_type"], data["year"], data["record"], data["record_id"]) == (
        "enterprise",
        2025,
        "enterprise_year",
        ids["enterprise_year"],
    )
    assert data["measure_id"] is None
    # The verified figures, typed as the record writes them, and who verified them when.
    figures = year_figures()
    assert {name: data[name] for name in ("revenue_yuan", "employees", "above_scale", "top500_service")} == figures
    assert (data["submitted_by"], data["verified_by"]) == (f"district:{YUZHONG}", "city")
    assert datetime.fromisoformat(data["verified_at"]) == datetime.fromisoformat(
        single.json()["verification"]["verified_at"]
    )
    await assert_the_link_shows_the_verified_figures(registry_app, events[0])

    # A bulk decision that fails writes nothing, events included.
    items = [
        {"record": "enterprise_year", "id": ids["enterprise_year_2"], "decision": "verify"},
        {"record": "cluster_year", "id": ids["cluster_year"], "decision": "verify"},
        {"record": "building_year", "id": ids["building_year"], "decision": "verify"},
        {"record": "cluster_evaluation", "id": ids["cluster_evaluation"], "decision": "verify"},
        {"record": "building", "id": ids["building"], "decision": "verify"},
        {"record": "enterprise_year", "id": ids["enterprise_year"], "decision": "verify"},  # unchanged
    ]
    bad = [*items, {"record": "project", "id": "424242", "decision": "verify"}]
    assert (await city.post("/verifications", json={"items": bad})).status_code == 422
    assert len(await outbox(registry_app)) == 1

    # The bulk: one event per yearly figures row it verified (not the evaluation, the building, the unchanged one).
    done = await city.post("/verifications", json={"items": items})
    assert done.status_code == 200, done.text
    events = await served(registry_app, 4)
    cluster, building = ids["cluster_year"].split("/")[0], ids["building"]
    uscc_2 = ids["enterprise_year_2"].split("/")[0]
    assert sorted(summary(events[1:])) == sorted(
        [
            ("figures.verified", YUZHONG, f"enterprise:{uscc_2}"),
            ("figures.verified", YUZHONG, f"cluster:{cluster}"),
            ("figures.verified", YUZHONG, f"building:{building}"),
        ]
    )
    links = {event["data"]["links"]["self"] for event in events[1:]}
    assert links == {
        f"/api/v1/registry/enterprises/{uscc_2}",
        f"/api/v1/registry/clusters/{cluster}/years",
        f"/api/v1/registry/buildings/{building}",
    }
    revenues = {event["data"]["record"]: event["data"]["revenue_yuan"] for event in events[1:]}
    assert revenues == {"enterprise_year": "25000000.00", "cluster_year": "8000000.00", "building_year": "9000000.00"}
    for event in events:  # every link answers GET with the year, verified, and the figures the event carries
        await assert_the_link_shows_the_verified_figures(registry_app, event)
    # Every event type the registry recorded has its link route named above.
    assert {EventType(event["type"]) for event in events} <= set(REGISTRY_EVENT_LINKS)
    assert len({event["id"] for event in events}) == 4
    # One transaction: the bulk's events share it.
    rows = await outbox(registry_app)
    assert len({row["txid"] for row in rows[1:]}) == 1


# ---- eligibility: award.* ------------------------------------------------------------------------------------------


@pytest.fixture
async def ledger(eligibility_app: FastAPI, registry_app: FastAPI):
    clock = eligibility_app.state.clock
    clock.hold(TODAY)
    city = asgi_client(eligibility_app, CITY)
    assert (await register_other_policy(city))["document_number"] == OTHER_POLICY
    return city, asgi_client(registry_app, CITY), clock


async def investment(registry: httpx.AsyncClient) -> str:
    owner = await eligibility_enterprise(registry, YUZHONG, sector="software_it", spun_off=False)
    return await project(
        registry,
        kind="investment",
        owner_uscc=owner,
        district_code=YUZHONG,
        year=2025,
        verified_investment_yuan="12345678.95",
    )


def m01(project_id: str, amount: str) -> dict[str, Any]:
    return {"measure_id": "M01", "subject_type": "project", "subject_id": project_id, "amount_yuan": amount}


async def test_an_awards_whole_path_and_its_supersession(eligibility_app, ledger):
    city, registry, clock = ledger
    p = await investment(registry)
    lower = await propose(city, other_policy("project", p, "1000000.00"))
    await step(city, lower["id"], "approve")
    # Not higher: refused, nothing written.
    await propose(city, other_policy("project", p, "900000.00"), expected=409)
    higher = await propose(city, m01(p, "1234567.90"))
    # A refused step: nothing written.
    await step(city, higher["id"], "pay", expected=409)
    paid = await pay(city, clock, higher["id"])
    assert paid["status"] == "paid"

    events = await served(eligibility_app, 7)
    lower_subject, higher_subject = f"award:{lower['id']}", f"award:{higher['id']}"
    assert summary(events) == [
        ("award.proposed", YUZHONG, lower_subject),
        ("award.approved", YUZHONG, lower_subject),
        ("award.proposed", YUZHONG, higher_subject),
        ("award.superseded", YUZHONG, lower_subject),
        ("award.approved", YUZHONG, higher_subject),
        ("award.publicised", YUZHONG, higher_subject),
        ("award.paid", YUZHONG, higher_subject),
    ]
    by_type = {(event["type"], event["subject"]): event["data"] for event in events}
    proposed = by_type[("award.proposed", higher_subject)]
    assert proposed["links"] == {"self": f"/api/v1/eligibility/awards/{higher['id']}"}
    assert (proposed["measure_id"], proposed["subject_type"], proposed["year"]) == ("M01", "project", None)
    assert (proposed["amount_yuan"], proposed["payable_yuan"], proposed["supersedes_award_id"]) == (
        "1234567.90",
        "1234567.90",
        lower["id"],
    )
    superseded = by_type[("award.superseded", lower_subject)]
    assert (superseded["from_status"], superseded["status"], superseded["superseded_by_award_id"]) == (
        "approved",
        "superseded",
        higher["id"],
    )
    assert by_type[("award.publicised", higher_subject)]["notice_ends_on"] == paid["notice_ends_on"]
    assert by_type[("award.paid", higher_subject)]["paid_on"] == paid["paid_on"]
    assert by_type[("award.approved", lower_subject)]["measure_id"] == "第五条"


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["reject"], ["award.proposed", "award.rejected"]),
        (["withdraw"], ["award.proposed", "award.withdrawn"]),
        (
            ["approve", "publicise", "object"],
            ["award.proposed", "award.approved", "award.publicised", "award.objected"],
        ),
    ],
)
async def test_each_step_records_its_event(eligibility_app, ledger, actions, expected):
    city, registry, _ = ledger
    p = await investment(registry)
    created = await propose(city, other_policy("project", p, "500000.00"))
    for action in actions:
        reason = "申请材料不全" if action in ("reject", "withdraw", "object") else None
        await step(city, created["id"], action, reason=reason)
    events = await served(eligibility_app, len(expected))
    assert [event["type"] for event in events] == expected
    assert {event["subject"] for event in events} == {f"award:{created['id']}"}
    assert events[-1]["data"]["reason"] == ("申请材料不全" if actions[-1] != "approve" else None)


async def test_a_top_up_of_a_paid_award_supersedes_nothing(eligibility_app, ledger):
    city, registry, clock = ledger
    p = await investment(registry)
    first = await propose(city, other_policy("project", p, "800000.00"))
    await pay(city, clock, first["id"])
    top_up = await propose(city, m01(p, "1234567.90"))
    events = await served(eligibility_app, 5)
    assert [event["type"] for event in events] == [
        "award.proposed",
        "award.approved",
        "award.publicised",
        "award.paid",
        "award.proposed",
    ]
    assert (events[-1]["data"]["tops_up_award_id"], events[-1]["data"]["payable_yuan"]) == (
        first["id"],
        "434567.90",
    )
    assert events[-1]["data"]["supersedes_award_id"] is None and top_up["tops_up_award_id"] == first["id"]


# ---- eligibility: parameter.amended -------------------------------------------------------------------------------


async def test_amending_a_parameter_records_one_event(eligibility_app):
    city = asgi_client(eligibility_app, CITY)
    listing = (await city.get("/parameters")).json()
    parameters, policy = listing["items"], listing["policy"]
    target = next(item for item in parameters if item["name"] == "m01.cap_yuan")
    name = target["name"]
    body = {"effective_from": policy["effective_to"], "value": target["value"], "reason": "测试修订"}
    amended = await city.post(f"/parameters/{name}/values", json=body)
    assert amended.status_code in (200, 201), amended.text
    # The same day again: a conflict, nothing written.
    assert (await city.post(f"/parameters/{name}/values", json=body)).status_code == 409
    events = await served(eligibility_app, 1)
    assert summary(events) == [("parameter.amended", None, f"parameter:{name}")]
    data = events[0]["data"]
    assert data["links"] == {"self": f"/api/v1/eligibility/parameters/{name}"}
    assert (data["name"], data["effective_from"], data["value"], data["reason"]) == (
        name,
        policy["effective_to"],
        target["value"],
        "测试修订",
    )
    assert data["measure_id"] == target["measure_id"]
    assert data["previous_value"] == target["value"] and data["unit"] == target["unit"]
    assert len(await outbox(eligibility_app)) == 1


# ---- ranking: ranking.published / ranking.republished ------------------------------------------------------------


async def test_publishing_a_ranking_tells_every_district_its_place(ranking_app, registry_app):
    ranking_app.state.clock.hold(date(2026, 3, 31))
    city = asgi_client(ranking_app, CITY)
    registry = asgi_client(registry_app, CITY)
    rows = await seed(registry)
    run = (await city.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})).json()
    assert await outbox(ranking_app) == []  # a draft is no publication
    assert (await city.post(f"/runs/{run['run_id']}/publish")).status_code == 200
    # Publishing it again is refused: nothing written.
    assert (await city.post(f"/runs/{run['run_id']}/publish", json={"reason": "again"})).status_code == 409
    events = await served(ranking_app, 38)
    assert len(events) == 38 and {event["type"] for event in events} == {"ranking.published"}
    assert {event["district_code"] for event in events} == {row["district_code"] for row in run["rows"]}
    assert {event["subject"] for event in events} == {"ranking:2025"}
    ranked = by_code(run)
    for event in events:
        data = event["data"]
        row = ranked[event["district_code"]]
        assert (data["rank"], data["award_yuan"], data["run_id"]) == (row["rank"], row["award_yuan"], run["run_id"])
        assert data["links"] == {"self": "/api/v1/ranking/rankings/2025"}
        assert (data["measure_id"], data["subject_type"], data["year"]) == ("M06", "district", 2025)

    # A corrected figure, a new run, published with a reason: republished, to every district, changes marked.
    target = next(row for row in rows[2025] if row["district_code"] == "500107")
    figures = {"revenue_yuan": "30000000.00", "employees": 80, "above_scale": True, "top500_service": False}
    assert (await registry.put(f"/enterprises/{target['uscc']}/years/2025", json=figures)).status_code in (200, 201)
    newer = (await city.post("/runs", json={"year": 2025, "as_of": "2026-03-31"})).json()
    replaced = await city.post(f"/runs/{newer['run_id']}/publish", json={"reason": "九龙坡区 corrected"})
    assert replaced.status_code == 200, replaced.text
    events = await served(ranking_app, 76)
    republished = of_type(events, "ranking.republished")
    assert len(republished) == 38 and events[38:] == republished
    changed = {event["district_code"]: event["data"] for event in republished if event["data"]["changed"]}
    assert {code: (data["previous_rank"], data["rank"]) for code, data in changed.items()} == {
        "500107": (6, 3),
        "500112": (3, 4),
        "500106": (4, 5),
        "500108": (5, 6),
    }
    assert changed["500107"]["previous_award_yuan"] == "3000000.00" and changed["500107"]["award_yuan"] == "5000000.00"
    assert {event["data"]["previous_run_id"] for event in republished} == {run["run_id"]}
    assert {event["data"]["publish_reason"] for event in republished} == {"九龙坡区 corrected"}
