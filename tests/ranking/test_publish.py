"""Publishing: the data-quality gate, one published run per year, republishing with a reason, history, exports."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.ranking.runs.quality import failures
from services.ranking.runs.schemas import RunNotDraftProblem, RunPublishRefusedProblem
from services.ranking.upstream.schemas import DistrictStatsReportIn
from tests.ranking.conftest import count_rows
from tests.ranking.scenario import EXPECTED, TOTAL, by_code, seed
from tests.support import ANONYMOUS, AUDITOR, district

AS_OF = "2026-03-31"
ZERO_GROWTH_RANK = {"version": "2025.1", "normalisation": "rank", "description": "counts only"}


async def draft(city, **payload):
    response = await city.post("/runs", json={"year": 2025, "as_of": AS_OF, **payload})
    assert response.status_code == 201, response.text
    return response.json()


async def test_publish_makes_the_ranking_public_and_frozen(city, client_for, registry):
    await seed(registry)
    run = await draft(city)
    assert (await client_for(ANONYMOUS).get("/rankings/2025")).status_code == 404
    published = await city.post(f"/runs/{run['run_id']}/publish", json={})
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "published" and body["supersedes_run_id"] is None and body["changes"] == []
    assert body["published_by"] == "city"

    for principal in (ANONYMOUS, district("500243"), AUDITOR):
        ranking = await client_for(principal).get("/rankings/2025")
        assert ranking.status_code == 200
        public = ranking.json()
        assert public["run_id"] == run["run_id"] and public["input_hash"] == run["input_hash"]
        assert public["rows"] == run["rows"] and public["total_award_yuan"] == TOTAL
        assert {code: (row["score"], row["rank"]) for code, row in by_code(public).items()} == EXPECTED

    # Publishing a draft twice is a conflict, and nothing changes.
    again = await city.post(f"/runs/{run['run_id']}/publish", json={"reason": "again"})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409 and again.json()["type"] == "/problems/run-not-draft"
    assert again.json()["current_status"] == again.json()["run_status"] == "published"  # the old name, deprecated
    assert RunNotDraftProblem.model_validate(again.json()).current_status == "published"  # the documented problem
    assert (await city.get(f"/runs/{run['run_id']}")).json()["publish_reason"] is None


async def test_a_changed_registry_figure_gives_a_new_hash_and_the_published_run_stays(city, client_for, registry):
    rows = await seed(registry)
    run = await draft(city)
    assert (await city.post(f"/runs/{run['run_id']}/publish")).status_code == 200
    before = (await client_for(ANONYMOUS).get("/rankings/2025")).json()

    # One comparable enterprise of 九龙坡区 reports 30,000,000 instead of 20,400,000 for 2025.
    target = next(row for row in rows[2025] if row["district_code"] == "500107")
    changed = await registry.put(
        f"/enterprises/{target['uscc']}/years/2025",
        json={"revenue_yuan": "30000000.00", "employees": 80, "above_scale": True, "top500_service": False},
    )
    assert changed.status_code in (200, 201), changed.text
    newer = await draft(city)
    assert newer["input_hash"] != run["input_hash"]
    assert by_code(newer)["500107"]["revenue_growth"] == "0.116000"  # (102,000,000 − 20,400,000 + 30,000,000)/100M − 1

    assert (await client_for(ANONYMOUS).get("/rankings/2025")).json() == before
    assert (await city.get(f"/runs/{run['run_id']}")).json()["rows"] == run["rows"]

    # Replacing it needs a reason; without one nothing is written.
    refused = await city.post(f"/runs/{newer['run_id']}/publish", json={"reason": "   "})
    assert refused.status_code == 422
    assert ["body", "reason"] in [error["loc"] for error in refused.json()["errors"]]
    assert (await city.get(f"/runs/{newer['run_id']}")).json()["status"] == "draft"
    assert (await client_for(ANONYMOUS).get("/rankings/2025")).json() == before
    assert (await city.post(f"/runs/{newer['run_id']}/publish")).status_code == 422

    replaced = await city.post(
        f"/runs/{newer['run_id']}/publish", json={"reason": "九龙坡区 corrected its 2025 revenue"}
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["supersedes_run_id"] == run["run_id"]
    # 九龙坡区: 0.35 + (4/3)·(0.116 + 0.10) = 0.638000 > 渝北区 0.625000: it climbs from 6 to 3 and 南岸区 drops to 6.
    # (The growth range −0.10 … 0.20 is unchanged; the median rises to 0.11375, which only moves 万州区's capped
    # growth: 0.285000, still 7th.)
    assert {
        (c["district_code"], c["previous_rank"], c["rank"], c["previous_award_yuan"], c["award_yuan"])
        for c in body["changes"]
    } == {
        ("500107", 6, 3, "3000000.00", "5000000.00"),
        ("500112", 3, 4, "5000000.00", "5000000.00"),
        ("500106", 4, 5, "5000000.00", "5000000.00"),
        ("500108", 5, 6, "5000000.00", "3000000.00"),
    }
    assert by_code(newer)["500107"]["score"] == "0.638000" and by_code(newer)["500101"]["score"] == "0.285000"
    now = (await client_for(ANONYMOUS).get("/rankings/2025")).json()
    assert now["run_id"] == newer["run_id"] and now["publish_reason"] == "九龙坡区 corrected its 2025 revenue"

    history = (await client_for(ANONYMOUS).get("/rankings/2025/history")).json()
    assert [(item["run_id"], item["status"]) for item in history["items"]] == [
        (run["run_id"], "superseded"),
        (newer["run_id"], "published"),
    ]
    assert history["items"][0]["superseded_by_run_id"] == newer["run_id"]
    assert history["items"][0]["changes"] is None and history["items"][1]["changes"] == body["changes"]
    old = (await city.get(f"/runs/{run['run_id']}")).json()
    assert old["status"] == "superseded" and old["rows"] == run["rows"] and old["input_hash"] == run["input_hash"]
    # A superseded run cannot come back by publishing it again.
    assert (await city.post(f"/runs/{run['run_id']}/publish", json={"reason": "undo"})).status_code == 409


async def test_republishing_under_another_methodology_reports_what_changed(city, registry):
    await seed(registry)
    first = await draft(city)
    assert (await city.post(f"/runs/{first['run_id']}/publish")).status_code == 200
    created = await city.post(
        "/methodologies",
        json={
            **ZERO_GROWTH_RANK,
            "weights": {"new_above_scale_count": "0.5", "net_increase": "0.5", "revenue_growth": "0"},
        },
    )
    assert created.status_code == 201
    second = await draft(city, methodology_version="2025.1")
    published = await city.post(f"/runs/{second['run_id']}/publish", json={"reason": "methodology 2025.1 adopted"})
    assert published.status_code == 200
    changes = published.json()["changes"]
    before, after = by_code(first), by_code(second)
    expected = {
        code
        for code in before
        if before[code]["rank"] != after[code]["rank"] or before[code]["award_yuan"] != after[code]["award_yuan"]
    }
    assert expected and {change["district_code"] for change in changes} == expected
    for change in changes:
        code = change["district_code"]
        assert (change["previous_rank"], change["rank"]) == (before[code]["rank"], after[code]["rank"])
        assert (change["previous_award_yuan"], change["award_yuan"]) == (
            before[code]["award_yuan"],
            after[code]["award_yuan"],
        )


async def test_the_data_quality_gate_refuses_a_year_without_base_figures(city, client_for, registry):
    await seed(registry, with_base_year=False)
    run = await draft(city)
    assert run["quality"]["passed"] is False
    assert [failure["check"] for failure in run["quality"]["failures"]] == ["base_year_figures"]
    assert run["total_award_yuan"] == TOTAL  # a draft is still computed, for inspection
    refused = await city.post(f"/runs/{run['run_id']}/publish", json={"reason": "publish anyway"})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["failures"][0]["check"] == "base_year_figures" and "2024" in problem["failures"][0]["msg"]
    typed = RunPublishRefusedProblem.model_validate(problem)  # the documented problem
    assert typed.failures is not None and typed.failures[0].check == "base_year_figures" and typed.errors
    assert (await city.get(f"/runs/{run['run_id']}")).json()["status"] == "draft"
    assert (await client_for(ANONYMOUS).get("/rankings/2025")).status_code == 404


def test_the_gate_checks_new_minus_exited_against_the_net_increase():
    row = {
        "district_name": "x",
        "above_scale_count": 10,
        "prior_above_scale_count": 9,
        "new_above_scale_count": 3,
        "exited_count": 2,
        "net_increase": 1,
        "revenue_yuan": "1.00",
        "comparable_count": 7,
        "comparable_revenue_yuan": "1.00",
        "comparable_prior_revenue_yuan": "1.00",
        "revenue_growth": "0.000000",
    }
    report = {
        "year": 2025,
        "base_year": 2024,
        "enterprise_years_in_year": 10,
        "enterprise_years_in_base_year": 9,
        "districts": [{**row, "district_code": "500101"}, {**row, "district_code": "500102", "net_increase": 2}],
    }
    found = failures(DistrictStatsReportIn.model_validate(report))
    assert [(failure["check"], failure["district_code"]) for failure in found] == [("net_increase", "500102")]
    assert failures(DistrictStatsReportIn.model_validate({**report, "districts": report["districts"][:1]})) == []


@pytest.mark.parametrize(("principal", "status"), [(AUDITOR, 403), (district("500103"), 403), (ANONYMOUS, 401)])
async def test_only_the_city_publishes(city, client_for, registry, principal, status):
    await seed(registry)
    run = await draft(city)
    response = await client_for(principal).post(f"/runs/{run['run_id']}/publish", json={})
    assert response.status_code == status
    assert (await city.get(f"/runs/{run['run_id']}")).json()["status"] == "draft"


async def test_publish_bad_input(city):
    assert (await city.post("/runs/424242/publish", json={})).status_code == 404
    assert (await city.post("/runs/1/publish", json={"reason": "x", "extra": 1})).status_code == 422
    assert (await city.post("/runs/1/publish", json={"reason": "x" * 2001})).status_code == 422


async def test_the_database_holds_at_most_one_published_run_per_year(city, registry, ranking_app):
    await seed(registry)
    first, second = await draft(city), await draft(city)
    assert (await city.post(f"/runs/{first['run_id']}/publish")).status_code == 200
    with pytest.raises(IntegrityError):
        async with ranking_app.state.engine.begin() as connection:
            await connection.execute(
                text("UPDATE runs SET status = 'published' WHERE id = :id"), {"id": second["run_id"]}
            )
    assert await count_rows(ranking_app, "runs") == 2


async def test_rankings_bad_input(client_for):
    anonymous = client_for(ANONYMOUS)
    for path in ("/rankings/2023", "/rankings/2030/history", "/rankings/1999/export.csv"):
        response = await anonymous.get(path)
        assert response.status_code == 422 and response.json()["errors"][0]["loc"] == ["path", "year"]
    assert (await anonymous.get("/rankings/next")).status_code == 422
    for path in ("/rankings/2025", "/rankings/2025/export.csv", "/rankings/2025/export.xlsx"):
        assert (await anonymous.get(path)).status_code == 404
    assert (await anonymous.get("/rankings/2025/history")).json() == {"year": 2025, "items": []}
    assert (await client_for(None).get("/rankings/2025")).status_code == 401


async def test_exports_for_the_official_notice(city, client_for, registry):
    await seed(registry)
    run = await draft(city)
    assert (await city.post(f"/runs/{run['run_id']}/publish")).status_code == 200
    anonymous = client_for(ANONYMOUS)

    exported = await anonymous.get("/rankings/2025/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert 'filename="ranking-2025.csv"' in exported.headers["content-disposition"]
    assert exported.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0] == ["rank", "district_code", "district_name", "score", "award_yuan"]
    assert lines[1] == ["1", "500103", "渝中区", "0.866667", "5000000.00"]
    assert lines[5] == ["5", "500108", "南岸区", "0.510000", "5000000.00"]
    assert lines[6] == ["6", "500107", "九龙坡区", "0.510000", "3000000.00"]
    assert len(lines) == 39 and sum(Decimal(line[4]) for line in lines[1:]) == Decimal(TOTAL)

    # The file's own type whatever the caller accepts: generated clients map it to bytes in their own settings.
    workbook_response = await anonymous.get(
        "/rankings/2025/export.xlsx", headers={"Accept": "application/octet-stream"}
    )
    assert workbook_response.status_code == 200
    assert (
        workbook_response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert workbook_response.headers["content-disposition"] == 'attachment; filename="ranking-2025.xlsx"'
    workbook = load_workbook(io.BytesIO(workbook_response.content))
    sheet = workbook["2025"]
    assert [cell.value for cell in sheet[2]] == ["名次", "区县代码", "区县", "综合得分", "奖励金额（元）"]
    assert [cell.value for cell in sheet[3]][:3] == [1, "500103", "渝中区"]
    assert Decimal(str(sheet.cell(row=3, column=5).value)) == Decimal("5000000")
    assert Decimal(str(sheet.cell(row=41, column=5).value)) == Decimal(TOTAL)
    provenance = {row[0].value: row[1].value for row in workbook["provenance"].iter_rows()}
    assert provenance["input_hash"] == run["input_hash"] and provenance["run_id"] == run["run_id"]
