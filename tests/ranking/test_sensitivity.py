"""Sensitivity: Monte Carlo over weights and normalisations, reproducible by seed, bounded, city and auditor only."""

import numpy as np
import pytest

from services.ranking.sensitivity.service import simulate_ranks
from tests.ranking.scenario import by_code, seed
from tests.support import ANONYMOUS, AUDITOR, district

AS_OF = "2026-03-31"


async def a_run(city, registry) -> dict:
    await seed(registry)
    response = await city.post("/runs", json={"year": 2025, "as_of": AS_OF})
    assert response.status_code == 201
    return response.json()


async def test_same_seed_same_answer(city, client_for, registry):
    run = await a_run(city, registry)
    path = f"/runs/{run['run_id']}/sensitivity"
    first = await city.get(path, params={"draws": 2000, "seed": 7})
    assert first.status_code == 200, first.text
    assert (await client_for(AUDITOR).get(path, params={"draws": 2000, "seed": 7})).json() == first.json()
    other = (await city.get(path, params={"draws": 2000, "seed": 8})).json()
    assert other["districts"] != first.json()["districts"]

    body = first.json()
    assert (body["draws"], body["seed"], body["concentration"], body["fragile_threshold"]) == (2000, 7, 100.0, 0.8)
    assert body["normalisations"] == ["min_max", "z_score", "rank"]
    nominal = by_code(run)
    assert [d["nominal_rank"] for d in body["districts"]] == list(range(1, 39))
    for entry in body["districts"]:
        assert entry["nominal_rank"] == nominal[entry["district_code"]]["rank"]
        assert entry["award_yuan"] == nominal[entry["district_code"]]["award_yuan"]
        assert 1 <= entry["p5_rank"] <= entry["median_rank"] <= entry["p95_rank"] <= 38
        assert 0 <= entry["p_top5"] <= entry["p_top10"] <= 1
        if entry["award_yuan"] == "5000000.00":
            assert entry["p_keep_tier"] == entry["p_top5"]
        elif entry["award_yuan"] == "3000000.00":
            assert entry["p_keep_tier"] == entry["p_top10"]
        else:
            assert entry["p_keep_tier"] is None and entry["fragile"] is False
        if not nominal[entry["district_code"]]["award_eligible"]:
            # No award place in any draw: the 30 districts without above-size enterprises stay at ranks 9 … 38.
            assert entry["p5_rank"] >= 9 and entry["p_top5"] == 0
        if entry["p_keep_tier"] is not None:
            assert entry["fragile"] is (entry["p_keep_tier"] < 0.8)
    by_district = {entry["district_code"]: entry for entry in body["districts"]}
    # 渝中区 leads on every indicator but growth: first under every normalisation and nearby weights.
    assert by_district["500103"]["p_top5"] == 1.0 and by_district["500103"]["fragile"] is False
    # 南岸区 holds the 5th place only by the tie-break: keeping it in 80% of draws would be luck.
    assert by_district["500108"]["fragile"] is True
    # 彭水县 (8th) is the last district that can take an award place: it keeps its tier in every draw.
    assert by_district["500243"]["p_keep_tier"] == 1.0 and by_district["500243"]["p_top10"] == 1.0


def test_the_simulation_follows_the_tie_break_order_and_fixed_weights():
    # Three districts, one indicator carrying all the weight: every draw ranks by it, whatever the normalisation.
    matrices = np.array([[[0.2, 0.0, 0.0], [0.5, 0.0, 0.0], [0.2, 0.0, 0.0]]] * 3)
    weights = np.array([1.0, 0.0, 0.0])
    # Districts 0 and 2 are tied; the tie-break order puts district 2 before district 0.
    ties = np.array([2, 0, 1])
    ranks = simulate_ranks(matrices, weights, ties, draws=50, seed=1, concentration=100.0)
    assert ranks.shape == (50, 3)
    assert (ranks == np.array([3, 1, 2])).all()
    # A district that can take no award place stays last, whatever its score.
    ineligible = np.array([False, True, False])
    ranks = simulate_ranks(matrices, weights, ties, draws=50, seed=1, concentration=100.0, ineligible=ineligible)
    assert (ranks == np.array([2, 3, 1])).all()


def test_the_simulation_perturbs_weights_around_the_nominal_ones():
    # District 0 wins on indicator 0, district 1 on indicator 1; weights 0.5/0.5 make it a coin toss.
    matrices = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 3)
    ranks = simulate_ranks(
        matrices, np.array([0.5, 0.5, 0.0]), np.array([0, 1]), draws=4000, seed=3, concentration=50.0
    )
    share = float((ranks[:, 0] == 1).mean())
    assert 0.45 < share < 0.55
    again = simulate_ranks(
        matrices, np.array([0.5, 0.5, 0.0]), np.array([0, 1]), draws=4000, seed=3, concentration=50.0
    )
    assert (again == ranks).all()


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"draws": 0}, ["query", "draws"]),
        ({"draws": 100_001}, ["query", "draws"]),
        ({"draws": "many"}, ["query", "draws"]),
        ({"seed": -1}, ["query", "seed"]),
        ({"seed": 2**64}, ["query", "seed"]),
    ],
)
async def test_absurd_draws_or_seed_are_a_422_problem(city, registry, params, loc):
    run = await a_run(city, registry)
    response = await city.get(f"/runs/{run['run_id']}/sensitivity", params=params)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == loc


async def test_sensitivity_authorisation_and_unknown_run(city, client_for, registry):
    run = await a_run(city, registry)
    path = f"/runs/{run['run_id']}/sensitivity"
    assert (await client_for(district("500103")).get(path)).status_code == 403
    assert (await client_for(ANONYMOUS).get(path)).status_code == 401
    assert (await client_for(AUDITOR).get(path, params={"draws": 10})).status_code == 200
    assert (await city.get("/runs/987654/sensitivity")).status_code == 404
