"""Award places go only to real performance: districts without above-size enterprises, boundary ties, unreported
and unverified records. Every expectation is worked out by hand below from 渝发改规范〔2024〕7号 第（六）条 (ranks 1–5
5,000,000 yuan each, ranks 6–10 3,000,000 each, for the districts' above-size producer-service enterprises: new
count, net increase, revenue growth) under the default methodology 2024.1 (METHODOLOGY.md).

The boundary scenario, 2025 against 2024; every listed district has 5 comparable enterprises (above size in both
years, 20,000,000 yuan each in 2024), the other 27 districts have no enterprise at all:

| code   | district | 2025 revenue each | growth | new | exited | net |
|--------|----------|------------------:|-------:|----:|-------:|----:|
| 500103 | 渝中区   | 24,000,000 | 0.20 | 4 | 0 | 4 |
| 500105 | 江北区   | 23,000,000 | 0.15 | 3 | 0 | 3 |
| 500112 | 渝北区   | 24,000,000 | 0.20 | 2 | 0 | 2 |
| 500106 | 沙坪坝区 | 22,000,000 | 0.10 | 2 | 0 | 2 |
| 500108 | 南岸区   | 21,000,000 | 0.05 | 2 | 0 | 2 |
| 500107 | 九龙坡区 | 21,000,000 | 0.05 | 3 | 2 | 1 |
| 500101 | 万州区   | 22,000,000 | 0.10 | 1 | 0 | 1 |
| 500109 | 北碚区   | 23,000,000 | 0.15 | 0 | 0 | 0 |
| 500113 | 巴南区   | 21,000,000 | 0.05 | 1 | 0 | 1 |
| 500242 | 酉阳县   | 20,000,000 | 0    | 0 | 0 | 0 |
| 500243 | 彭水县   | 20,000,000 | 0    | 0 | 0 | 0 |

Min-max over the 38 districts (the empty ones count new 0, net 0, growth 0): new 0 … 4, net 0 … 4, growth 0 … 0.20
(every listed district meets the minimum base of 5, so nothing is capped). Score = 0.3·new/4 + 0.3·net/4 +
0.4·g/0.20 = 0.075·new + 0.075·net + 2·g:

 1 渝中区 0.3 + 0.3 + 0.4 = 1.000000 · 2 江北区 0.225 + 0.225 + 0.3 = 0.750000 · 3 渝北区 0.15 + 0.15 + 0.4 = 0.700000
 · 4 沙坪坝区 0.15 + 0.15 + 0.2 = 0.500000 · 5/6: 南岸区 0.15 + 0.15 + 0.1 = 0.400000 and 九龙坡区 0.225 + 0.075 + 0.1
 = 0.400000, equal growth 0.05, so the second tie-break key decides: net increase 2 > 1 puts 南岸区 (500108) 5th with
 5,000,000 and 九龙坡区 (500107) 6th with 3,000,000, though 500107 < 500108 · 7 万州区 0.075 + 0.075 + 0.2 = 0.350000
 · 8 北碚区 0.3 = 0.300000 · 9 巴南区 0.075 + 0.075 + 0.1 = 0.250000 · 10/11: 酉阳县 and 彭水县 both 0.000000, equal on
 growth, net increase and new count: no indicator separates them, the district code does: 500242 10th with
 3,000,000, 500243 11th with nothing, and the run must be published with a reason.
The 27 empty districts also score 0.000000; by code order alone 涪陵区 (500102) would have taken rank 10, but with no
above-size enterprise in either year none of them takes an award place: ranks 12 … 38 in code order, 0.00 each.
Total 5 × 5,000,000 + 5 × 3,000,000 = 40,000,000.
"""

from decimal import Decimal
from typing import Any

from services.ranking.runs.quality import failures, unreported_share
from services.ranking.runs.schemas import RunPublishRefusedProblem
from services.ranking.upstream.schemas import DistrictStatsReportIn
from shared.reference import DISTRICTS
from tests.ranking.conftest import count_rows
from tests.ranking.scenario import by_code, new_uscc, rows_for, seed, write
from tests.support import CITY, asgi_client, district

AS_OF = "2026-03-31"
M20, M21, M22, M23, M24 = "20000000.00", "21000000.00", "22000000.00", "23000000.00", "24000000.00"
BOUNDARY: dict[str, tuple[int, str, str, int, int]] = {
    "500103": (5, M20, M24, 4, 0),
    "500105": (5, M20, M23, 3, 0),
    "500112": (5, M20, M24, 2, 0),
    "500106": (5, M20, M22, 2, 0),
    "500108": (5, M20, M21, 2, 0),
    "500107": (5, M20, M21, 3, 2),
    "500101": (5, M20, M22, 1, 0),
    "500109": (5, M20, M23, 0, 0),
    "500113": (5, M20, M21, 1, 0),
    "500242": (5, M20, M20, 0, 0),
    "500243": (5, M20, M20, 0, 0),
}
BOUNDARY_EMPTY = sorted(d.code for d in DISTRICTS if d.code not in BOUNDARY)
# code → (score, rank, award), by hand (module docstring).
BOUNDARY_EXPECTED: dict[str, tuple[str, int, str]] = {
    "500103": ("1.000000", 1, "5000000.00"),
    "500105": ("0.750000", 2, "5000000.00"),
    "500112": ("0.700000", 3, "5000000.00"),
    "500106": ("0.500000", 4, "5000000.00"),
    "500108": ("0.400000", 5, "5000000.00"),
    "500107": ("0.400000", 6, "3000000.00"),
    "500101": ("0.350000", 7, "3000000.00"),
    "500109": ("0.300000", 8, "3000000.00"),
    "500113": ("0.250000", 9, "3000000.00"),
    "500242": ("0.000000", 10, "3000000.00"),
    "500243": ("0.000000", 11, "0.00"),
    **{code: ("0.000000", 12 + index, "0.00") for index, code in enumerate(BOUNDARY_EMPTY)},
}


async def run(city: Any, **payload: Any) -> dict[str, Any]:
    response = await city.post("/runs", json={"year": 2025, "as_of": AS_OF, **payload})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_boundary_scenario_ranks_as_worked_out_by_hand(city, registry):
    await write(registry, rows_for(BOUNDARY))
    body = await run(city)
    rows = by_code(body)
    assert {code: (r["score"], r["rank"], r["award_yuan"]) for code, r in rows.items()} == BOUNDARY_EXPECTED
    assert body["total_award_yuan"] == "40000000.00"
    assert len(BOUNDARY_EMPTY) == 27
    # A zero-enterprise district never takes rank 10 (第（六）条 rewards districts for their above-size enterprises).
    assert rows["500242"]["rank"] == 10 and rows["500102"]["rank"] == 12
    for code in BOUNDARY_EMPTY:
        assert rows[code]["award_eligible"] is False and rows[code]["award_yuan"] == "0.00"
        assert rows[code]["score"] == rows["500242"]["score"]  # equal score, still no place
    assert all(rows[code]["award_eligible"] for code in BOUNDARY)
    assert (rows["500107"]["prior_above_scale_count"], rows["500107"]["above_scale_count"]) == (7, 8)
    assert rows["500107"]["exited_count"] == 2

    # Both award boundaries are tied; the run says which key decided each, and who.
    assert body["boundary_ties"] == [
        {
            "boundary": "5/6",
            "last_rank_of_tier": 5,
            "score": "0.400000",
            "decided_by": "net_increase",
            "districts": [
                {"district_code": "500108", "district_name": "南岸区", "rank": 5, "award_yuan": "5000000.00"},
                {"district_code": "500107", "district_name": "九龙坡区", "rank": 6, "award_yuan": "3000000.00"},
            ],
        },
        {
            "boundary": "10/11",
            "last_rank_of_tier": 10,
            "score": "0.000000",
            "decided_by": "district_code",
            "districts": [
                {
                    "district_code": "500242",
                    "district_name": "酉阳土家族苗族自治县",
                    "rank": 10,
                    "award_yuan": "3000000.00",
                },
                {"district_code": "500243", "district_name": "彭水苗族土家族自治县", "rank": 11, "award_yuan": "0.00"},
            ],
        },
    ]
    assert body["code_decided_money"] is True
    # Margins: a nil lead where the tie-break decided the place.
    assert rows["500108"]["lead_over_lower_tier"] == "0.000000"
    assert rows["500242"]["lead_over_lower_tier"] == "0.000000"
    assert rows["500243"]["gap_to_higher_tier"] == "0.000000" and rows["500243"]["lead_over_lower_tier"] is None


async def test_publishing_a_run_where_the_district_code_decided_money_needs_a_reason(city, client_for, registry):
    await write(registry, rows_for(BOUNDARY))
    body = await run(city)
    for payload in ({}, {"reason": "   "}):
        refused = await city.post(f"/runs/{body['run_id']}/publish", json=payload)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert ["body", "reason"] in [error["loc"] for error in problem["errors"]]
        assert "500242" in problem["detail"] and "500243" in problem["detail"]
        assert [tie["boundary"] for tie in problem["boundary_ties"]] == ["10/11"]
        # The body is the documented problem, its ties in the API's names.
        typed = RunPublishRefusedProblem.model_validate(problem)
        assert typed.boundary_ties is not None and typed.boundary_ties[0].decided_by == "district_code"
        assert typed.boundary_ties[0].districts and typed.failures is None
    assert (await city.post(f"/runs/{body['run_id']}/publish")).status_code == 422
    assert (await city.get(f"/runs/{body['run_id']}")).json()["status"] == "draft"
    assert (await client_for(None).get("/rankings/2025")).status_code == 401
    assert (await city.get("/rankings/2025")).status_code == 404

    reason = "酉阳县 and 彭水县 equal on every indicator; rank 10 by district code as METHODOLOGY.md publishes"
    published = await city.post(f"/runs/{body['run_id']}/publish", json={"reason": reason})
    assert published.status_code == 200, published.text
    assert published.json()["publish_reason"] == reason
    public = (await city.get("/rankings/2025")).json()
    assert public["run_id"] == body["run_id"] and public["publish_reason"] == reason
    assert public["boundary_ties"] == body["boundary_ties"]  # the public notice shows what decided the places


async def test_a_tie_decided_by_an_indicator_needs_no_reason(city, registry):
    # The main scenario's only boundary tie (5/6) is settled by revenue growth.
    await seed(registry)
    body = await run(city)
    assert [tie["decided_by"] for tie in body["boundary_ties"]] == ["revenue_growth"]
    assert (await city.post(f"/runs/{body['run_id']}/publish", json={})).status_code == 200


def stats_row(code: str, **figures: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "district_code": code,
        "district_name": code,
        "above_scale_count": 0,
        "prior_above_scale_count": 0,
        "new_above_scale_count": 0,
        "exited_count": 0,
        "net_increase": 0,
        "revenue_yuan": "0.00",
        "comparable_count": 0,
        "comparable_revenue_yuan": "0.00",
        "comparable_prior_revenue_yuan": "0.00",
        "revenue_growth": None,
    }
    return {**row, **figures}


def report(*rows: dict[str, Any]) -> DistrictStatsReportIn:
    return DistrictStatsReportIn.model_validate(
        {
            "year": 2025,
            "base_year": 2024,
            "enterprise_years_in_year": 1,
            "enterprise_years_in_base_year": 1,
            "districts": list(rows),
        }
    )


def test_the_gate_uses_the_identity_with_moves_and_unreported_records():
    # 40 above size in 2024; in 2025: 3 new, 2 moved in, 1 exited (recorded not above size), 1 moved out,
    # 2 unreported (no verified record): 40 + 3 + 2 − 1 − 1 − 2 = 41, net increase 1.
    good = stats_row(
        "500101",
        above_scale_count=41,
        prior_above_scale_count=40,
        new_above_scale_count=3,
        moved_in_count=2,
        exited_count=1,
        moved_out_count=1,
        unreported_count=2,
        net_increase=1,
    )
    # The same figures read as before (a missing record counted as an exit, 3 exits): the identity does not hold.
    miscounted = {**good, "district_code": "500102", "exited_count": 3}
    # 2 of 40 = 0.05 is the threshold itself: it passes; 3 of 40 = 0.075 passes it.
    too_many = {**good, "district_code": "500103", "unreported_count": 3, "net_increase": 0, "above_scale_count": 40}
    found = failures(report(good, miscounted, too_many))
    assert [(f["check"], f["district_code"]) for f in found] == [
        ("net_increase", "500102"),
        ("unreported_share", "500103"),
    ]
    assert "0.075000" in found[1]["msg"] and "0.050000" in found[1]["msg"] and "not exits" in found[1]["msg"]
    assert failures(report(too_many), max_unreported_share=Decimal("0.075")) == []
    assert failures(report(too_many), max_unreported_share=Decimal("0.074999"))[0]["check"] == "unreported_share"
    # A district without above-size enterprises in the base year has nothing to leave unreported.
    assert unreported_share(0, 0) == 0 and unreported_share(1, 40) == Decimal("0.025")


def test_a_registry_without_the_new_counts_reads_them_as_zero():
    row = stats_row("500101", above_scale_count=3, prior_above_scale_count=2, new_above_scale_count=1, net_increase=1)
    parsed = report(row).districts[0]
    assert (parsed.moved_in_count, parsed.moved_out_count, parsed.unreported_count) == (0, 0, 0)
    assert parsed.awaiting_verification_count == 0 and parsed.has_above_scale_enterprise
    assert not report(stats_row("500102")).districts[0].has_above_scale_enterprise
    # Above size in the base year only is enough for an award place (the district had them).
    assert report(stats_row("500103", prior_above_scale_count=1)).districts[0].has_above_scale_enterprise


async def test_a_missing_yearly_record_is_unreported_not_an_exit_and_the_gate_holds_it(city, registry, ranking_app):
    # The main scenario, plus one enterprise of 彭水县 above size in 2024 with no record for 2025.
    rows = await seed(registry)
    missing = {**rows[2024][-1], "uscc": new_uscc("500243"), "district_code": "500243"}
    missing["name"] = f"重庆排名测试企业{missing['uscc'][-6:]}有限公司"
    await write(registry, {2024: [missing]})
    body = await run(city)
    pengshui = by_code(body)["500243"]
    # 彭水县: 6 above size in 2024, 5 in 2025; the sixth is unreported, not an exit: 0 + 0 − 0 − 0 − 1 = −1.
    assert (pengshui["prior_above_scale_count"], pengshui["above_scale_count"]) == (6, 5)
    assert (pengshui["unreported_count"], pengshui["exited_count"], pengshui["net_increase"]) == (1, 0, -1)
    # 1 of 6 = 0.166667 passes the default 0.05: the gate refuses publication, naming the district.
    assert body["quality"]["passed"] is False
    assert [(f["check"], f["district_code"]) for f in body["quality"]["failures"]] == [("unreported_share", "500243")]
    refused = await city.post(f"/runs/{body['run_id']}/publish", json={"reason": "publish anyway"})
    assert refused.status_code == 422
    assert ["quality", "unreported_share", "500243"] in [error["loc"] for error in refused.json()["errors"]]
    assert (await city.get(f"/runs/{body['run_id']}")).json()["status"] == "draft"

    # A methodology that tolerates a fifth unreported (0.166667 ≤ 0.2) passes the same figures.
    created = await city.post(
        "/methodologies",
        json={
            "version": "2025.u",
            "weights": {"new_above_scale_count": "0.3", "net_increase": "0.3", "revenue_growth": "0.4"},
            "max_unreported_share": "0.2",
            "description": "tolerant gate",
        },
    )
    assert created.status_code == 201, created.text
    tolerant = await run(city, methodology_version="2025.u")
    assert tolerant["quality"] == {"passed": True, "failures": []}
    assert tolerant["methodology"]["max_unreported_share"] == "0.200000"
    assert await count_rows(ranking_app, "runs") == 2


async def test_a_districts_unverified_figures_move_neither_its_rank_nor_any_award(city, client_for, registry_app):
    registry = asgi_client(registry_app, CITY)
    await seed(registry)
    before = await run(city)
    # 彭水县's own key imports 30 invented above-size enterprises for 2025: submitted, not verified.
    invented = [
        {
            "uscc": (uscc := new_uscc("500243")),
            "name": f"重庆排名测试企业{uscc[-6:]}有限公司",
            "district_code": "500243",
            "sector": "software_it",
            "established_on": "2018-03-01",
            "spun_off_from_manufacturer": False,
            "year": 2025,
            "revenue_yuan": "25000000.00",
            "employees": 80,
            "above_scale": True,
            "top500_service": False,
        }
        for _ in range(30)
    ]
    await write(asgi_client(registry_app, district("500243")), {2025: invented})
    after = await run(city)
    assert [(r["district_code"], r["score"], r["rank"], r["award_yuan"]) for r in after["rows"]] == [
        (r["district_code"], r["score"], r["rank"], r["award_yuan"]) for r in before["rows"]
    ]
    assert by_code(after)["500243"]["awaiting_verification_count"] == 30
    assert after["total_award_yuan"] == before["total_award_yuan"] == "34000000.00"
    assert after["quality"] == {"passed": True, "failures": []}
    assert by_code(after)["500243"]["new_above_scale_count"] == 0

    # Verified by the city, they count: 彭水县 new 30, net 30, growth −0.10; new 0 … 30, net −2 … 30, growth −0.10 …
    # 0.20: 0.3·30/30 + 0.3·32/32 + 0 = 0.600000, first; 渝中区 0.3·4/30 + 0.3·6/32 + 0.4·0.20/0.30 = 0.04 + 0.05625 +
    # 0.266667 = 0.362917.
    verified = await registry.post(
        "/verifications",
        json={
            "items": [
                {"record": "enterprise_year", "id": f"{row['uscc']}/2025", "decision": "verify"} for row in invented
            ]
        },
    )
    assert verified.status_code in (200, 201), verified.text
    counted = by_code(await run(city))
    assert (counted["500243"]["score"], counted["500243"]["rank"], counted["500243"]["award_yuan"]) == (
        "0.600000",
        1,
        "5000000.00",
    )
    assert counted["500103"]["score"] == "0.362917" and counted["500243"]["awaiting_verification_count"] == 0
