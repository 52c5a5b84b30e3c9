"""The assessment, the map and publication on a small registry, read through the registry's real API.

渝府发〔2024〕18号: 一、总体要求 (20 个百亿级集聚区, 领军企业100家), 第（一）条 (新增规模以上科技研发服务业企业500家),
第（二十三）条 (the map), 第（三十一）条 (统计监测, 定期发布). The plan's baseline year is 2023.

The registry, every figure written by the city (so verified):

| enterprise | district | sector      | 2023 above? | 2024 above (revenue, employees) | 2025 above (revenue, employees) |
|------------|----------|-------------|-------------|---------------------------------|---------------------------------|
| A          | 500103   | tech_rnd    | yes         | yes (15,000,000, 110)           | yes (20,000,000, 120)           |
| B          | 500103   | tech_rnd    | no          | —                               | yes (30,000,000, 200)           |
| C          | 500103   | tech_rnd    | —           | —                               | yes (50,000,000, 80)            |
| E          | 500103   | software_it | yes         | yes (35,000,000, 280)           | yes (40,000,000, 300)           |
| D          | 500105   | tech_rnd    | —           | —                               | yes (25,000,000, 90)            |

Clusters: X (500103) 8,000,000,000 in 2023 and 12,000,000,000 in 2025; Y (500105) 9,999,999,999.99 in 2025.
市级领军企业: E designated in 2023, A in 2025 (revoked and designated again the same year).
"""

import io
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from openpyxl import load_workbook

from shared.reference import DISTRICTS
from tests.registry.factories import enterprise, year_figures
from tests.support import ANONYMOUS, district

YUZHONG, JIANGBEI = "500103", "500105"
OBSERVED = "modern_logistics.logistics_cost_share_of_gdp"


async def _enterprise(registry, code: str, sector: str, years: dict[int, tuple[str, int, bool]]) -> str:
    body = enterprise(code, sector=sector)
    assert (await registry.post("/enterprises", json=body)).status_code == 201
    for year, (revenue, employees, above) in years.items():
        figures = year_figures(revenue, above, employees=employees)
        response = await registry.put(f"/enterprises/{body['uscc']}/years/{year}", json=figures)
        assert response.status_code == 201, response.text
    return str(body["uscc"])


async def small_registry(registry) -> None:
    a = await _enterprise(
        registry,
        YUZHONG,
        "tech_rnd",
        {2023: ("9000000.00", 90, True), 2024: ("15000000.00", 110, True), 2025: ("20000000.00", 120, True)},
    )
    await _enterprise(
        registry, YUZHONG, "tech_rnd", {2023: ("4000000.00", 30, False), 2025: ("30000000.00", 200, True)}
    )
    await _enterprise(registry, YUZHONG, "tech_rnd", {2025: ("50000000.00", 80, True)})
    e = await _enterprise(
        registry,
        YUZHONG,
        "software_it",
        {2023: ("30000000.00", 250, True), 2024: ("35000000.00", 280, True), 2025: ("40000000.00", 300, True)},
    )
    await _enterprise(registry, JIANGBEI, "tech_rnd", {2025: ("25000000.00", 90, True)})
    for code, name, revenues in (
        (YUZHONG, "解放碑监测集聚区", {2023: "8000000000.00", 2025: "12000000000.00"}),
        (JIANGBEI, "观音桥监测集聚区", {2025: "9999999999.99"}),
    ):
        cluster = (await registry.post("/clusters", json={"name": name, "district_code": code})).json()["id"]
        for year, revenue in revenues.items():
            put = await registry.put(f"/clusters/{cluster}/years/{year}", json={"revenue_yuan": revenue})
            assert put.status_code == 201, put.text
    for uscc, year in ((e, 2023), (a, 2025)):
        body = {"uscc": uscc, "year": year, "document": f"渝发改服务〔{year}〕8号"}
        assert (await registry.post("/leading-enterprises", json=body)).status_code == 201
    # A's designation revoked and made again: one enterprise, counted once.
    [first] = (await registry.get("/leading-enterprises", params={"year": 2025})).json()["items"]
    revoked = await registry.post(
        f"/leading-enterprises/{first['id']}/revocation", json={"reason": "文号有误，重新认定"}
    )
    assert revoked.status_code == 200, revoked.text
    again = {"uscc": a, "year": 2025, "document": "渝发改服务〔2025〕9号"}
    assert (await registry.post("/leading-enterprises", json=again)).status_code == 201


def by_target(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["target_id"]: row for row in report["targets"]}


async def test_computed_indicators_worked_by_hand(city, registry):
    await small_registry(registry)
    response = await city.get("/assessments/2025")
    assert response.status_code == 200, response.text
    report = response.json()
    targets = by_target(report)
    assert len(targets) == 45 and report["year"] == 2025 and len(report["input_hash"]) == 64

    # 第（一）条 新增规模以上科技研发服务业企业500家: above size in 2025 and not (verified) in 2023: B, C, D = 3; in
    # 2024 none (A was above size in 2023). Counted from the baseline: 0 in 2023. The line 0 → 500: 250 in 2025;
    # progress 3/500 = 0.006 against 0.5 → behind.
    t04 = targets["T04"]
    assert [(p["year"], p["value"]) for p in t04["observed"]] == [(2023, "0"), (2024, "0"), (2025, "3")]
    assert (t04["value"], t04["achieved"], t04["expected"]) == ("3", "3", "250")
    assert (t04["progress"], t04["expected_progress"], t04["status"]) == ("0.006", "0.5", "behind")
    assert {p["origin"] for p in t04["provenance"]} == {"registry"}

    # 一、总体要求 20个百亿级集聚区: clusters with a verified yearly revenue ≥ 10,000,000,000: 0 in 2023 (X had 8bn), none
    # reported for 2024 (no data, not 0), 1 in 2025 (X; Y is a fen short). The line 0 → 20: 10 in 2025; 1/20 = 0.05
    # → behind.
    t02 = targets["T02"]
    assert [(p["year"], p["value"]) for p in t02["observed"]] == [(2023, "0"), (2025, "1")]
    assert (t02["progress"], t02["expected"], t02["status"]) == ("0.05", "10", "behind")

    # 一、总体要求 培育领军企业100家 (an increase): designated by the end of 2023: E = 1 (the baseline); by 2025: E, A = 2;
    # achieved 1 of 100; the target level 101.
    t03 = targets["T03"]
    assert (t03["baseline_value"], t03["value"], t03["achieved"], t03["target_level"]) == ("1", "2", "1", "101")
    assert (t03["progress"], t03["status"]) == ("0.01", "behind")

    # An observed indicator nobody recorded: no data, and no forecast.
    assert targets["T33"]["status"] == "no_data" and targets["T33"]["observed"] == []
    # 2026 is not reported: no enterprise figure, no cluster revenue — no data, not zeros; the designations standing
    # in 2026 (today is 2026-03-31) are a figure: E and A.
    later = by_target((await city.get("/assessments/2026")).json())
    assert (later["T04"]["status"], later["T04"]["value"]) == ("no_data", None)
    assert (later["T02"]["status"], later["T02"]["value"]) == ("no_data", None)
    assert later["T03"]["value"] == "2"
    # The summary counts every target once.
    assert sum(sum(s["statuses"].values()) for s in report["sectors"]) == 45
    assert report["sectors"][0]["sector"] is None and report["sectors"][0]["target_count"] == 3
    assert all(s["targets"] == s["target_count"] for s in report["sectors"])  # the deprecated name, one release


async def test_the_map_withholds_small_cells_from_other_districts(client_for, city, registry):
    await small_registry(registry)
    full = (await city.get("/map/2025")).json()
    assert len(full["districts"]) == 38 and full["small_cell_minimum"] == 3
    assert [d["district_code"] for d in full["districts"]] == [d.code for d in DISTRICTS]
    cells = {(c["district_code"], c["sector"]): c for c in full["cells"]}
    assert set(cells) == {(YUZHONG, "software_it"), (YUZHONG, "tech_rnd"), (JIANGBEI, "tech_rnd")}
    # 500103 tech_rnd: A, B, C: 100,000,000 yuan, 400 employees; the year before only A (15,000,000):
    # 100/15 − 1 = 5.666667; new since 2023: B, C; 领军: A.
    tech = cells[(YUZHONG, "tech_rnd")]
    assert (tech["above_scale_count"], tech["revenue_yuan"], tech["employees"]) == (3, "100000000.00", 400)
    assert (tech["revenue_growth"], tech["new_above_scale_since_baseline"], tech["leading_enterprises"]) == (
        "5.666667",
        2,
        1,
    )
    # 500103 as a whole: 140,000,000 against 50,000,000 (A 15 + E 35): 1.8; clusters X (≥ 10bn); 领军 E and A.
    totals = {d["district_code"]: d for d in full["districts"]}
    yuzhong = totals[YUZHONG]
    assert (yuzhong["above_scale_count"], yuzhong["revenue_yuan"], yuzhong["employees"]) == (4, "140000000.00", 700)
    assert (yuzhong["revenue_growth"], yuzhong["clusters"], yuzhong["clusters_reaching_10bn"]) == ("1.8", 1, 1)
    assert (yuzhong["leading_enterprises"], yuzhong["region"], yuzhong["suppressed"]) == (2, "central", False)
    jiangbei = totals[JIANGBEI]
    assert (jiangbei["clusters"], jiangbei["clusters_reaching_10bn"], jiangbei["revenue_growth"]) == (1, 0, None)
    assert (yuzhong["awards"], yuzhong["award_amount_yuan"]) == (0, "0.00")

    # 江北区's key: every count, and of 渝中区 only its total (4 enterprises: what the registry's district statistics
    # give every key) — no growth (the year before held 2, A and E), no cell's money, no award amount.
    seen = (await client_for(district(JIANGBEI)).get("/map/2025")).json()
    cells = {(c["district_code"], c["sector"]): c for c in seen["cells"]}
    for sector, count in (("software_it", 1), ("tech_rnd", 3)):
        hidden = cells[(YUZHONG, sector)]
        assert (hidden["suppressed"], hidden["revenue_yuan"], hidden["employees"], hidden["revenue_growth"]) == (
            True,
            None,
            None,
            None,
        ), sector
        assert hidden["above_scale_count"] == count
    assert cells[(JIANGBEI, "tech_rnd")]["revenue_yuan"] == "25000000.00"  # its own
    totals = {d["district_code"]: d for d in seen["districts"]}
    shown = totals[YUZHONG]
    assert (shown["revenue_yuan"], shown["revenue_growth"], shown["suppressed"], shown["award_amount_yuan"]) == (
        "140000000.00",
        None,
        False,
        None,
    )
    assert totals[JIANGBEI]["award_amount_yuan"] == "0.00"  # its own
    # The city's sector totals: tech_rnd holds 3 enterprises outside 江北区 (A, B, C): 100 + 25 = 125,000,000, no
    # growth (outside 江北区 only A the year before); software_it holds E alone outside it: withheld.
    sectors = {row["sector"]: row for row in seen["sectors"]}
    assert len(sectors) == 18
    assert (sectors["tech_rnd"]["revenue_yuan"], sectors["tech_rnd"]["above_scale_count"]) == ("125000000.00", 4)
    assert sectors["tech_rnd"]["revenue_growth"] is None
    assert (sectors["software_it"]["revenue_yuan"], sectors["software_it"]["suppressed"]) == (None, True)
    # 渝中区's key sees its own in full; of tech_rnd outside it only D (江北区): withheld; software_it is all its own.
    own = (await client_for(district(YUZHONG)).get("/map/2025")).json()
    own_cells = {(c["district_code"], c["sector"]): c for c in own["cells"]}
    assert own_cells[(YUZHONG, "software_it")]["revenue_yuan"] == "40000000.00"
    assert own_cells[(JIANGBEI, "tech_rnd")]["suppressed"] is True
    own_sectors = {row["sector"]: row for row in own["sectors"]}
    assert (own_sectors["tech_rnd"]["revenue_yuan"], own_sectors["software_it"]["revenue_yuan"]) == (
        None,
        "40000000.00",
    )
    # The city sees every sector: tech_rnd 125,000,000 against A's 15,000,000 the year before: 7.333333.
    assert {row["sector"]: row["revenue_growth"] for row in full["sectors"]}["tech_rnd"] == "7.333333"

    # The tile map of the same figures, and a bad indicator refused.
    tiles = await city.get("/map/2025/tiles.svg", params={"indicator": "revenue_yuan"})
    assert tiles.status_code == 200 and tiles.headers["content-type"] == "image/svg+xml"
    assert tiles.headers["content-disposition"] == 'inline; filename="map-2025-revenue_yuan.svg"'
    ElementTree.fromstring(tiles.content)  # noqa: S314 (our own output)
    refused = await city.get("/map/2025/tiles.svg", params={"indicator": "gdp"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["query", "indicator"]
    assert (await city.get("/map/2023")).status_code == 422  # the baseline year is not a year of the plan


async def test_the_workbook_and_charts_hold_the_assessment(city, registry):
    await small_registry(registry)
    put = await city.put(
        f"/indicators/{OBSERVED}/observations/2023",
        json={"value": "14.4", "unit": "percent", "source_kind": "statistics_bureau", "source": "市统计局"},
    )
    assert put.status_code == 201
    report = (await city.get("/assessments/2025")).json()
    workbook = await city.get("/assessments/2025/report.xlsx")
    assert workbook.status_code == 200
    assert workbook.headers["content-disposition"] == 'attachment; filename="monitoring-2025.xlsx"'
    sheets = load_workbook(io.BytesIO(workbook.content), read_only=True)
    summary = list(sheets["汇总"].iter_rows(values_only=True))
    header = next(list(r) for r in summary if r[0] == "目标编号")
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in summary if r[0] in by_target(report)}
    assert len(rows) == 45
    for target_id, row in rows.items():
        expected = by_target(report)[target_id]
        for column, field in (("当年值", "value"), ("进度", "progress"), ("目标值", "target_value")):
            figure = expected[field]
            assert (row[column] is None) == (figure is None), (target_id, column)
            if figure is not None:
                assert Decimal(str(row[column])) == Decimal(figure), (target_id, column, row[column], figure)
    assert rows["T04"]["当年值"] == 3 and rows["T33"]["基线值"] == 14.4  # numbers, not text
    for path in ("/assessments/2025/targets/T04/chart.svg", "/assessments/2025/sectors/chart.svg"):
        chart = await city.get(path, headers={"Accept": "application/octet-stream"})
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml", path
        assert chart.headers["content-disposition"].startswith('inline; filename="'), path
        ElementTree.fromstring(chart.content)  # noqa: S314 (our own output)
    assert (await city.get("/assessments/2025/targets/T99/chart.svg")).status_code == 404
    assert (await city.get("/assessments/2028")).status_code == 422


async def test_publication_is_frozen_versioned_and_public(city, client_for, registry, clock):
    await small_registry(registry)
    first = await city.post("/publications/2025", json={"reason": "2026年一季度专项工作会议"})
    assert first.status_code == 201, first.text
    published = first.json()
    assert (published["version"], published["current"], published["published_by"]) == (1, True, "city")
    assert first.headers["location"] == "/publications/2025/versions/1"
    # The public view of the map: what a caller who may read no district sees. No cell's money; 渝中区's total (4)
    # but not 江北区's (1); tech_rnd over the city (4) but not software_it (1).
    assert all(cell["revenue_yuan"] is None for cell in published["map"]["cells"])
    totals = {d["district_code"]: d for d in published["map"]["districts"]}
    assert (totals[YUZHONG]["revenue_yuan"], totals[JIANGBEI]["revenue_yuan"]) == ("140000000.00", None)
    sectors = {row["sector"]: row["revenue_yuan"] for row in published["map"]["sectors"]}
    assert (sectors["tech_rnd"], sectors["software_it"]) == ("125000000.00", None)
    # Nothing changed: no second version.
    again = await city.post("/publications/2025", json={"reason": "重复发布"})
    assert again.status_code == 409
    # A correction changes the inputs: version 2, and version 1 stays as it was.
    put = await city.put(
        f"/indicators/{OBSERVED}/observations/2025",
        json={"value": "13.9", "unit": "percent", "source_kind": "department", "source": "市政府口岸物流办"},
    )
    assert put.status_code == 201
    second = await city.post("/publications/2025", json={"reason": "补充物流费用数据"})
    assert second.status_code == 201 and second.json()["version"] == 2
    assert second.json()["input_hash"] != published["input_hash"]
    anyone = client_for(ANONYMOUS)
    history = (await anyone.get("/publications/2025/history")).json()
    assert [(v["version"], v["current"]) for v in history["versions"]] == [(2, True), (1, False)]
    old = (await anyone.get("/publications/2025/versions/1")).json()
    assert old["input_hash"] == published["input_hash"] and old["current"] is False
    assert old["assessment"] == published["assessment"]
    current = (await anyone.get("/publications/2025")).json()
    assert by_target(current["assessment"])["T33"]["value"] == "13.9"
    # Refused: a year not ended, a year outside the plan, a district key; nothing written.
    assert (await city.post("/publications/2026", json={"reason": "提前发布"})).status_code == 422
    assert (await city.post("/publications/2029", json={"reason": "规划外"})).status_code == 422
    assert (await client_for(district(YUZHONG)).post("/publications/2025", json={"reason": "区县"})).status_code == 403
    clock.hold(date(2027, 1, 1))
    assert (await anyone.get("/publications/2026")).status_code == 404
    assert len((await anyone.get("/publications/2025/history")).json()["versions"]) == 2
