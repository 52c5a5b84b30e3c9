"""Runs: the hand-ranked scenario, reproducibility, bad input, authorisation."""

import hashlib
import json
import socket
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from services.ranking import CODE_VERSION
from services.ranking.main import create_app
from services.ranking.vocabulary import stored_key
from shared.http import UpstreamUnavailableProblem
from tests.ranking.conftest import TODAY, count_rows, ranking_settings
from tests.ranking.doubles import upstreams_in_process
from tests.ranking.scenario import EMPTY, EXPECTED, TOTAL, award_for, by_code, seed, total
from tests.support import ANONYMOUS, AUDITOR, CITY, asgi_client, district

AS_OF = "2026-03-31"


async def test_the_scenario_ranks_as_worked_out_by_hand(city, registry):
    await seed(registry)
    response = await city.post("/runs", json={"year": 2025, "as_of": AS_OF})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft" and body["methodology_version"] == "2024.1"
    assert body["code_version"] == CODE_VERSION and body["as_of"] == AS_OF
    assert body["quality"] == {"passed": True, "failures": []}
    rows = by_code(body)
    assert {code: (row["score"], row["rank"]) for code, row in rows.items()} == EXPECTED
    assert [row["rank"] for row in body["rows"]] == list(range(1, 39))
    for row in body["rows"]:
        assert row["award_yuan"] == award_for(row["rank"])
    assert body["total_award_yuan"] == TOTAL and total(body["rows"]) == Decimal(TOTAL)

    # 渝中区: new 4/4, net (4 + 2)/6, growth (0.10 + 0.10)/0.30; contributions are weight × normalised value.
    first = rows["500103"]
    assert first["normalised"] == {
        "new_above_scale_count": "1.000000",
        "new_count": "1.000000",  # deprecated, the same value
        "net_increase": "1.000000",
        "revenue_growth": "0.666667",
    }
    assert first["contributions"] == {
        "new_above_scale_count": "0.300000",
        "new_count": "0.300000",
        "net_increase": "0.300000",
        "revenue_growth": "0.266667",
    }
    assert (first["new_above_scale_count"], first["exited_count"], first["net_increase"]) == (4, 0, 4)
    assert first["new_count"] == first["new_above_scale_count"]  # the deprecated name, for one release
    assert first["revenue_growth"] == "0.100000" and first["growth_used"] == "0.100000"
    assert first["comparable_count"] == 5 and first["revenue_yuan"] == "210000000.00"  # 110,000,000 + 4 × 25,000,000

    # The tie at the 5/6 boundary: equal scores, settled by revenue growth (the first tie-break key).
    south, jiulong = rows["500108"], rows["500107"]
    assert south["score"] == jiulong["score"] == "0.510000"
    assert (south["rank"], south["award_yuan"]) == (5, "5000000.00")
    assert (jiulong["rank"], jiulong["award_yuan"]) == (6, "3000000.00")
    assert south["growth_used"] == "0.113750" and jiulong["growth_used"] == "0.020000"
    # 南岸区's lead over the next tier is nil; 九龙坡区 is nil behind the tier above it.
    assert south["lead_over_lower_tier"] == "0.000000" and south["gap_to_higher_tier"] is None
    assert jiulong["gap_to_higher_tier"] == "0.000000"
    # The 6–10 tier is the last one any award-eligible district reaches (only 8 can): no one below to lead.
    assert jiulong["lead_over_lower_tier"] is None

    # The minimum base: 万州区's +50% on 2 comparable enterprises counts as the median 0.10.
    wanzhou = rows["500101"]
    assert wanzhou["revenue_growth"] == "0.500000" and wanzhou["growth_used"] == "0.100000"
    assert wanzhou["growth_capped"] is True and wanzhou["net_increase"] == -2
    assert wanzhou["normalised"]["net_increase"] == "0.000000"

    # 第（六）条 pays districts for their above-size enterprises: the 30 districts with none in either year take no
    # award place, though their 0.233333 beats 彭水县's 0.100000; 彭水县 (5 above size in both years) is 8th with
    # 3,000,000, and ranks 9 and 10 pay nothing.
    pengshui = rows["500243"]
    assert (pengshui["rank"], pengshui["award_yuan"], pengshui["award_eligible"]) == (8, "3000000.00", True)
    assert (pengshui["above_scale_count"], pengshui["prior_above_scale_count"]) == (5, 5)
    assert pengshui["award_ineligible_reason"] is None
    assert pengshui["gap_to_higher_tier"] == "0.410000"  # 0.510000 (rank 5) − 0.100000
    assert [rows[code]["rank"] for code in EMPTY[:4]] == [9, 10, 11, 12]
    for code in EMPTY:
        empty = rows[code]
        assert (empty["award_eligible"], empty["award_yuan"]) == (False, "0.00")
        assert (empty["above_scale_count"], empty["prior_above_scale_count"]) == (0, 0)
        assert "no above-size enterprise" in empty["award_ineligible_reason"]
        assert empty["lead_over_lower_tier"] is None and empty["gap_to_higher_tier"] is None
    empty = rows[EMPTY[0]]
    assert empty["revenue_growth"] is None and empty["growth_used"] == "0.000000" and empty["growth_capped"] is False
    assert sum(row["award_eligible"] for row in body["rows"]) == 8
    assert rows["500103"]["gap_to_higher_tier"] is None
    assert rows["500103"]["lead_over_lower_tier"] == "0.356667"  # 0.866667 − 0.510000 (rank 6)
    # Every enterprise of the scenario has a record for both years: nothing unreported, nothing waiting.
    assert all(row["unreported_count"] == 0 and row["awaiting_verification_count"] == 0 for row in body["rows"])
    assert all(row["moved_in_count"] == 0 and row["moved_out_count"] == 0 for row in body["rows"])
    # The one boundary tie (5/6) was settled by an indicator, so publishing needs no reason for it.
    assert [(tie["boundary"], tie["decided_by"]) for tie in body["boundary_ties"]] == [("5/6", "revenue_growth")]
    assert [(d["district_code"], d["rank"], d["award_yuan"]) for d in body["boundary_ties"][0]["districts"]] == [
        ("500108", 5, "5000000.00"),
        ("500107", 6, "3000000.00"),
    ]
    assert body["boundary_ties"][0]["score"] == "0.510000" and body["code_decided_money"] is False

    # The inputs are kept: the registry's rows and the award table the eligibility service gave.
    assert body["inputs"]["registry"]["year"] == 2025 and len(body["inputs"]["registry"]["districts"]) == 38
    assert body["inputs"]["award_table"]["by_rank"]["1"] == "5000000.00"
    assert body["inputs"]["award_table"]["by_rank"]["10"] == "3000000.00"
    assert "第（六）条" in body["inputs"]["award_table"]["citation"]
    assert body["methodology"]["tie_break"] == ["revenue_growth", "net_increase", "new_above_scale_count"]
    assert body["methodology"]["max_unreported_share"] == "0.050000"
    # The policy's force and rewarded years, as the eligibility service gave them, are inputs too.
    assert body["inputs"]["policy"] == {
        "effective_from": "2024-11-19",
        "effective_to": "2027-12-31",
        "first_rewarded_year": 2024,
        "last_rewarded_year": 2027,
        "citation": body["inputs"]["policy"]["citation"],
    }
    assert "附则" in body["inputs"]["policy"]["citation"]

    again = await city.get(f"/runs/{body['run_id']}")
    assert again.status_code == 200 and again.json() == body


async def test_same_inputs_same_hash_and_the_hash_is_of_the_canonical_document(city, registry):
    await seed(registry)
    first = (await city.post("/runs", json={"year": 2025, "as_of": AS_OF})).json()
    second = (await city.post("/runs", json={"year": 2025, "as_of": AS_OF, "methodology_version": "2024.1"})).json()
    assert first["run_id"] != second["run_id"]
    assert first["input_hash"] == second["input_hash"] and first["rows"] == second["rows"]
    # The hash covers the methodology's parameters, not the published wording of the tie-break rule, and names the
    # indicator new_above_scale_count by its stored name new_count (the hashes of published runs stay as they were).
    methodology = {key: value for key, value in first["methodology"].items() if key != "tie_break_rule"}
    methodology["weights"] = {
        key: value for key, value in methodology["weights"].items() if key != "new_above_scale_count"
    }
    methodology["tie_break"] = [stored_key(key) for key in methodology["tie_break"]]
    canonical = json.dumps(
        {"year": 2025, "inputs": first["inputs"], "methodology": methodology},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert hashlib.sha256(canonical).hexdigest() == first["input_hash"]
    # Another award date is another input.
    later = (await city.post("/runs", json={"year": 2025, "as_of": "2026-04-01"})).json()
    assert later["input_hash"] != first["input_hash"] and later["rows"] == first["rows"]


async def test_a_new_default_methodology_is_used_when_none_is_named(city, registry):
    await seed(registry)
    created = await city.post(
        "/methodologies",
        json={
            "version": "2025.1",
            "weights": {"new_above_scale_count": "0.5", "net_increase": "0.5", "revenue_growth": "0"},
            "normalisation": "rank",
            "description": "counts only",
            "make_default": True,
        },
    )
    assert created.status_code == 201, created.text
    body = (await city.post("/runs", json={"year": 2025, "as_of": AS_OF})).json()
    assert body["methodology_version"] == "2025.1" and body["methodology"]["normalisation"] == "rank"
    # 渝中区 has the most new (4) and the highest net increase (4): rank normalisation puts it at 1 on both.
    assert by_code(body)["500103"]["score"] == "1.000000" and by_code(body)["500103"]["rank"] == 1
    assert body["total_award_yuan"] == TOTAL


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"year": 2025, "methodology_version": "9999.9"}, ["body", "methodology_version"]),
        ({"year": 2023}, ["body", "year"]),
        ({"year": 2028}, ["body", "year"]),
        ({"year": 2025, "as_of": "2024-11-18"}, ["body", "as_of"]),
        ({"year": 2025, "as_of": "2028-01-01"}, ["body", "as_of"]),
        ({"year": "twenty"}, ["body", "year"]),
        ({"year": 2025, "colour": "red"}, ["body", "colour"]),
    ],
)
async def test_bad_run_input_is_a_422_problem_and_nothing_is_written(city, registry, ranking_app, payload, loc):
    await seed(registry)
    response = await city.post("/runs", json=payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert await count_rows(ranking_app, "runs") == 0


@pytest.mark.parametrize(
    ("principal", "status"), [(AUDITOR, 403), (district("500103"), 403), (ANONYMOUS, 401), (None, 401)]
)
async def test_only_the_city_computes_runs(client_for, registry, ranking_app, principal, status):
    await seed(registry)
    response = await client_for(principal).post("/runs", json={"year": 2025, "as_of": AS_OF})
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
    assert await count_rows(ranking_app, "runs") == 0


async def test_reading_a_run_is_for_city_and_auditor(city, client_for, registry):
    await seed(registry)
    run_id = (await city.post("/runs", json={"year": 2025, "as_of": AS_OF})).json()["run_id"]
    assert (await client_for(AUDITOR).get(f"/runs/{run_id}")).status_code == 200
    assert (await client_for(district("500103")).get(f"/runs/{run_id}")).status_code == 403
    assert (await client_for(ANONYMOUS).get(f"/runs/{run_id}")).status_code == 401
    missing = await city.get("/runs/999999")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert (await city.get("/runs/0")).status_code == 422


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("upstream", ["registry", "eligibility"])
async def test_an_upstream_down_is_a_503_problem_and_nothing_is_written(
    ranking_database, registry_app, eligibility_app, registry, upstream
):
    await seed(registry)
    settings = ranking_settings(
        ranking_database.url, **{f"{upstream}_url": f"http://127.0.0.1:{closed_port()}"}, upstream_retries=1
    )
    app = create_app(settings)
    # The other upstream answers in-process; the one under test has nothing listening.
    in_process = (
        {"eligibility": httpx.ASGITransport(app=eligibility_app)}
        if upstream == "registry"
        else {"registry": httpx.ASGITransport(app=registry_app)}
    )
    async with upstreams_in_process(app, settings, **in_process), app.router.lifespan_context(app):
        app.state.clock.hold(TODAY)
        response = await asgi_client(app, CITY).post("/runs", json={"year": 2025, "as_of": AS_OF})
        assert response.status_code == 503, response.text
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert upstream in problem["detail"] and problem["upstream"] == upstream
        assert UpstreamUnavailableProblem.model_validate(problem).upstream == upstream
        assert await count_rows(app, "runs") == 0


async def test_listing_runs_newest_first_by_year_and_status(city, client_for, registry):
    await seed(registry)
    ids = [(await city.post("/runs", json={"year": 2025, "as_of": AS_OF})).json()["run_id"] for _ in range(3)]
    assert (await city.post(f"/runs/{ids[0]}/publish")).status_code == 200
    first = await client_for(AUDITOR).get("/runs", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [item["run_id"] for item in page["items"]] == [ids[2], ids[1]] and page["next_cursor"]
    assert page["items"][0]["total_award_yuan"] == TOTAL and page["items"][0]["quality_passed"] is True
    rest = (await city.get("/runs", params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [item["run_id"] for item in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    published = (await city.get("/runs", params={"status": "published", "year": 2025})).json()["items"]
    assert [(item["run_id"], item["status"]) for item in published] == [(ids[0], "published")]
    assert (await city.get("/runs", params={"year": 2026})).json()["items"] == []
    for params in ({"status": "final"}, {"limit": 0}, {"cursor": "not-a-cursor"}):
        assert (await city.get("/runs", params=params)).status_code == 422
    assert (await client_for(district("500103")).get("/runs")).status_code == 403
    assert (await client_for(ANONYMOUS).get("/runs")).status_code == 401


async def test_storage_keeps_the_old_name_of_the_new_count_and_the_answer_gives_the_new_one(
    city, registry, ranking_app
):
    """Renaming new_count to new_above_scale_count (the registry's name) changed no stored document or hash."""
    await seed(registry)
    body = (await city.post("/runs", json={"year": 2025, "as_of": AS_OF})).json()
    async with ranking_app.state.engine.connect() as connection:
        document = (
            await connection.execute(text("SELECT document FROM runs WHERE id = :id"), {"id": body["run_id"]})
        ).scalar_one()
    if isinstance(document, str):
        document = json.loads(document)
    row = document["rows"][0]
    assert "new_count" in row and "new_above_scale_count" not in row
    assert set(row["indicators"]) == {"new_count", "net_increase", "revenue_growth"}
    assert set(document["methodology"]["weights"]) == {"new_count", "net_increase", "revenue_growth"}
    assert "new_count" in document["methodology"]["tie_break"]
    served = body["rows"][0]
    assert served["new_above_scale_count"] == served["new_count"] == row["new_count"]
    assert served["indicators"]["new_above_scale_count"] == row["indicators"]["new_count"]
    assert body["methodology"]["tie_break"] == ["revenue_growth", "net_increase", "new_above_scale_count"]
