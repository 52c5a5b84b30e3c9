"""Methodology versions: the seeded default, creation by the city only, immutability, bad input."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.ranking.vocabulary import api_key, with_both_names
from shared.policy.ranking import MethodologyVersion, read_methodologies
from tests.ranking.conftest import count_rows
from tests.support import ANONYMOUS, AUDITOR, CITY, district

PUBLISHED = read_methodologies()


def methodology(**overrides: object) -> dict[str, object]:
    body = {
        "version": "2025.1",
        "weights": {"new_above_scale_count": "0.25", "net_increase": "0.25", "revenue_growth": "0.5"},
        "normalisation": "z_score",
        "min_base": 3,
        "winsorise": "0.05",
        "tie_break": ["net_increase", "revenue_yuan"],
        "description": "Growth weighs half; z-scores after 5% winsorisation.",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("principal", [ANONYMOUS, AUDITOR, district("500243")])
async def test_the_default_version_is_seeded_and_readable_by_anyone(client_for, principal):
    response = await client_for(principal).get("/methodologies")
    assert response.status_code == 200
    (default,) = response.json()["items"]
    assert default["version"] == "2024.1" and default["is_default"] is True
    assert default["weights"] == {
        "new_above_scale_count": "0.300000",
        "new_count": "0.300000",  # deprecated, the same value
        "net_increase": "0.300000",
        "revenue_growth": "0.400000",
    }
    assert (default["normalisation"], default["growth_basis"], default["min_base"]) == ("min_max", "comparable", 5)
    assert default["winsorise"] is None
    assert default["tie_break"] == ["revenue_growth", "net_increase", "new_above_scale_count"]
    assert "district_code ascending" in default["tie_break_rule"]
    assert "no award place" in default["tie_break_rule"] and "reason" in default["tie_break_rule"]
    # The data-quality gate's threshold, 0.05 for the versions made before it existed (migration 0002).
    assert default["max_unreported_share"] == "0.050000"
    one = await client_for(principal).get("/methodologies/2024.1")
    assert one.status_code == 200 and one.json() == default


async def test_unsigned_requests_are_refused(client_for):
    assert (await client_for(None).get("/methodologies")).status_code == 401


async def test_the_city_creates_a_version_and_may_make_it_the_default(city, client_for):
    created = await city.post("/methodologies", json=methodology())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["weights"] == {
        "new_above_scale_count": "0.250000",
        "new_count": "0.250000",
        "net_increase": "0.250000",
        "revenue_growth": "0.500000",
    }
    assert body["winsorise"] == "0.050000" and body["is_default"] is False and body["created_by"] == "city"
    assert body["tie_break"] == ["net_increase", "revenue_yuan"]
    assert body["max_unreported_share"] == "0.050000"  # the default when none is given

    second = await city.post(
        "/methodologies", json=methodology(version="2025.2", make_default=True, max_unreported_share="0")
    )
    assert second.status_code == 201 and second.json()["is_default"] is True
    assert second.json()["max_unreported_share"] == "0.000000"
    third = await city.post("/methodologies", json=methodology(version="2025.3", max_unreported_share=1))
    assert third.status_code == 201 and third.json()["max_unreported_share"] == "1.000000"
    listed = (await client_for(ANONYMOUS).get("/methodologies")).json()["items"]
    assert [(m["version"], m["is_default"]) for m in listed] == [
        ("2024.1", False),
        ("2025.1", False),
        ("2025.2", True),
        ("2025.3", False),
    ]


async def test_a_version_never_changes(city, ranking_app):
    assert (await city.post("/methodologies", json=methodology())).status_code == 201
    again = await city.post("/methodologies", json=methodology(normalisation="rank"))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert (await city.get("/methodologies/2025.1")).json()["normalisation"] == "z_score"
    assert (await city.put("/methodologies/2025.1", json=methodology())).status_code == 405
    # Even in the database: only `is_default` of a version may move.
    with pytest.raises(DBAPIError, match="immutable"):
        async with ranking_app.state.engine.begin() as connection:
            await connection.execute(text("UPDATE methodologies SET min_base = 0 WHERE version = '2024.1'"))


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        (
            {"weights": {"new_above_scale_count": "0.3", "net_increase": "0.3", "revenue_growth": "0.3"}},
            ["body", "weights"],
        ),
        (
            {
                "weights": {
                    "new_above_scale_count": "0.3",
                    "new_count": "0.3",
                    "net_increase": "0.3",
                    "revenue_growth": "0.4",
                }
            },
            ["body", "weights"],
        ),
        ({"weights": {"net_increase": "0.6", "revenue_growth": "0.4"}}, ["body", "weights"]),
        (
            {"weights": {"new_above_scale_count": "-0.1", "net_increase": "0.6", "revenue_growth": "0.5"}},
            ["body", "weights", "new_above_scale_count"],
        ),
        ({"weights": {"new_above_scale_count": "0.5", "net_increase": "0.5"}}, ["body", "weights", "revenue_growth"]),
        (
            {"weights": {"new_above_scale_count": 0.3, "net_increase": 0.3, "revenue_growth": 0.4, "jobs": 0}},
            ["body", "weights", "jobs"],
        ),
        ({"normalisation": "log"}, ["body", "normalisation"]),
        ({"growth_basis": "all_enterprises"}, ["body", "growth_basis"]),
        ({"min_base": -1}, ["body", "min_base"]),
        ({"winsorise": "0.25"}, ["body", "winsorise"]),
        ({"winsorise": "0"}, ["body", "winsorise"]),
        ({"tie_break": ["net_increase", "net_increase"]}, ["body", "tie_break"]),
        ({"tie_break": ["employees"]}, ["body", "tie_break", 0]),
        ({"version": "has space"}, ["body", "version"]),
        ({"description": ""}, ["body", "description"]),
        ({"max_unreported_share": "-0.01"}, ["body", "max_unreported_share"]),
        ({"max_unreported_share": "1.000001"}, ["body", "max_unreported_share"]),
        ({"max_unreported_share": "0.0000001"}, ["body", "max_unreported_share"]),
        ({"max_unreported_share": "a tenth"}, ["body", "max_unreported_share"]),
    ],
)
async def test_bad_methodology_is_a_422_problem_and_nothing_is_written(city, ranking_app, overrides, loc):
    response = await city.post("/methodologies", json=methodology(**overrides))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert await count_rows(ranking_app, "methodologies") == 1


async def test_float_weights_that_sum_to_one_are_accepted(city):
    response = await city.post(
        "/methodologies",
        json=methodology(weights={"new_above_scale_count": 0.1, "net_increase": 0.2, "revenue_growth": 0.7}),
    )
    assert response.status_code == 201, response.text
    assert response.json()["weights"]["revenue_growth"] == "0.700000"


@pytest.mark.parametrize(("principal", "status"), [(AUDITOR, 403), (district("500103"), 403), (ANONYMOUS, 401)])
async def test_only_the_city_creates_methodologies(client_for, ranking_app, principal, status):
    response = await client_for(principal).post("/methodologies", json=methodology(make_default=True))
    assert response.status_code == status
    assert await count_rows(ranking_app, "methodologies") == 1
    assert (await client_for(ANONYMOUS).get("/methodologies/2024.1")).json()["is_default"] is True


async def test_unknown_version_is_404(client_for):
    response = await client_for(ANONYMOUS).get("/methodologies/1999.1")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def six_places(version: MethodologyVersion) -> dict[str, object]:
    """A data-file version as GET /methodologies shows it."""
    return {
        "version": version.version,
        # The data file's `new_count` is `new_above_scale_count` in the API (and, deprecated, `new_count` too).
        "weights": with_both_names({name: f"{weight:.6f}" for name, weight in version.weights.model_dump().items()}),
        "normalisation": version.normalisation,
        "growth_basis": version.growth_basis,
        "min_base": version.min_base,
        "winsorise": None if version.winsorise is None else f"{version.winsorise:.6f}",
        "tie_break": [api_key(key) for key in version.tie_break],
        "max_unreported_share": f"{version.max_unreported_share:.6f}",
        "description": version.description,
        "is_default": version.version == PUBLISHED.default_version,
    }


async def test_the_versions_in_the_database_are_those_of_the_data_file(client_for):
    """shared/policy/ranking/methodologies.json and the migrations that insert its versions say the same."""
    items = (await client_for(ANONYMOUS).get("/methodologies")).json()["items"]
    assert [{key: item[key] for key in six_places(PUBLISHED.default)} for item in items] == [
        six_places(version) for version in PUBLISHED.versions
    ]


async def test_a_new_version_takes_the_published_defaults_it_does_not_set(client_for):
    body = {
        "version": "2025.9",
        "weights": {"new_above_scale_count": "0.2", "net_increase": "0.3", "revenue_growth": "0.5"},
    }
    created = await client_for(CITY).post("/methodologies", json={**body, "description": "Only weights set."})
    assert created.status_code == 201, created.text
    default = six_places(PUBLISHED.default)
    shown = created.json()
    for key in ("normalisation", "growth_basis", "min_base", "winsorise", "tie_break", "max_unreported_share"):
        assert shown[key] == default[key], key


async def test_the_old_name_of_the_new_count_is_still_accepted_for_one_release(city, ranking_app):
    """`new_count` (deprecated) stands for `new_above_scale_count` in weights and tie-break keys; stored as before."""
    old = methodology(
        version="2025.old",
        weights={"new_count": "0.25", "net_increase": "0.25", "revenue_growth": "0.5"},
        tie_break=["new_count", "revenue_yuan"],
    )
    created = await city.post("/methodologies", json=old)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["weights"]["new_above_scale_count"] == body["weights"]["new_count"] == "0.250000"
    assert body["tie_break"] == ["new_above_scale_count", "revenue_yuan"]
    async with ranking_app.state.engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT weight_new_count, tie_break FROM methodologies WHERE version = '2025.old'")
            )
        ).one()
    assert str(stored.weight_new_count).startswith("0.25") and list(stored.tie_break) == ["new_count", "revenue_yuan"]
