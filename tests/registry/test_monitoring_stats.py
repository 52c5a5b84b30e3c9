"""The monitoring statistics (`GET /monitoring-stats/{year}`, issue 18) on a small registry worked out by hand.

渝府发〔2024〕18号 第（三十一）条 asks for targets 可统计、可监测、可评估; the registry gives what it measures: verified
above-size enterprises per district and sector (新增规模以上企业 since the baseline year 2023, 较2023年), the clusters'
verified revenue (百亿级集聚区) and the 市级领军企业 standing at the end of the year (培育领军企业100家).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from services.registry.designations import service as designations
from tests.registry.factories import enterprise, year_figures
from tests.support import AUDITOR, SERVICE, district

WANZHOU, YUZHONG, JIANGBEI, YUBEI = "500101", "500103", "500105", "500112"


@pytest.fixture(autouse=True)
def _today(registry_app: FastAPI) -> Iterator[None]:
    # The designation of 2026 below needs a today in 2026.
    registry_app.state.clock.hold(date(2026, 12, 1))
    yield
    registry_app.state.clock.hold(None)


async def put_year(client, uscc: str, year: int, revenue: str, employees: int, above: bool, **extra) -> None:
    body = year_figures(revenue, above, employees=employees, **extra)
    response = await client.put(f"/enterprises/{uscc}/years/{year}", json=body)
    assert response.status_code == 201, response.text


async def registered(city, code: str, sector: str) -> str:
    body = enterprise(code, sector=sector)
    assert (await city.post("/enterprises", json=body)).status_code == 201
    return str(body["uscc"])


async def cluster_with_revenue(city, writer, code: str, name: str, revenues: dict[int, str]) -> int:
    cluster = (await city.post("/clusters", json={"name": name, "district_code": code})).json()["id"]
    for year, revenue in revenues.items():
        response = await writer.put(f"/clusters/{cluster}/years/{year}", json={"revenue_yuan": revenue})
        assert response.status_code == 201, response.text
    return int(cluster)


async def build_registry(city, client_for, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    yuzhong, jiangbei = client_for(district(YUZHONG)), client_for(district(JIANGBEI))
    e = {}
    # 渝中区 software_it
    e["A"] = await registered(city, YUZHONG, "software_it")
    await put_year(city, e["A"], 2023, "10000000.00", 100, True)
    await put_year(city, e["A"], 2024, "12000000.00", 110, True)
    await put_year(city, e["A"], 2025, "15000000.00", 120, True)
    e["B"] = await registered(city, YUZHONG, "software_it")
    await put_year(city, e["B"], 2023, "5000000.00", 50, False)
    await put_year(city, e["B"], 2024, "11000000.00", 60, True)
    await put_year(city, e["B"], 2025, "13000000.00", 70, True)
    e["C"] = await registered(city, YUZHONG, "software_it")
    await put_year(city, e["C"], 2025, "21000000.00", 90, True)
    e["D"] = await registered(city, YUZHONG, "software_it")
    await put_year(yuzhong, e["D"], 2025, "40000000.00", 300, True)  # submitted by the district: not counted
    e["E"] = await registered(city, YUZHONG, "software_it")
    await put_year(yuzhong, e["E"], 2023, "9000000.00", 180, True)  # 2023 only submitted: not verified above size
    await put_year(city, e["E"], 2025, "30000000.00", 200, True)
    # 渝中区 tech_rnd
    e["F"] = await registered(city, YUZHONG, "tech_rnd")
    await put_year(city, e["F"], 2024, "8000000.00", 40, True)
    await put_year(city, e["F"], 2025, "6000000.00", 35, False)
    # 江北区: G moved here from 渝中区 (its 2023 figures name 渝中区); H never above size.
    e["G"] = await registered(city, JIANGBEI, "tech_rnd")
    await put_year(city, e["G"], 2023, "9000000.00", 50, True, district_code=YUZHONG)
    await put_year(city, e["G"], 2025, "14000000.00", 55, True)
    e["H"] = await registered(city, JIANGBEI, "supply_chain")
    await put_year(city, e["H"], 2025, "3000000.00", 20, False)
    # 万州区 modern_logistics: J's 2025 figures are rejected by the city.
    e["I"] = await registered(city, WANZHOU, "modern_logistics")
    await put_year(city, e["I"], 2024, "20000000.00", 140, True)
    await put_year(city, e["I"], 2025, "25000000.00", 150, True)
    e["J"] = await registered(city, WANZHOU, "modern_logistics")
    await put_year(city, e["J"], 2024, "7000000.00", 30, True)
    await put_year(city, e["J"], 2025, "7500000.00", 31, True)
    rejected = await city.post(
        f"/enterprises/{e['J']}/years/2025/verification", json={"decision": "reject", "reason": "数据待核实"}
    )
    assert rejected.status_code == 200, rejected.text

    # Clusters: K1 and K3 verified for 2025; K2 submitted by its district; K4 rejected.
    k1 = await cluster_with_revenue(city, city, YUZHONG, "解放碑数字经济集聚区", {2025: "12000000000.00"})
    await cluster_with_revenue(city, jiangbei, JIANGBEI, "观音桥商务集聚区", {2025: "9500000000.00"})
    k3 = await cluster_with_revenue(
        city, city, WANZHOU, "万州现代物流集聚区", {2024: "8000000000.00", 2025: "10000000000.00"}
    )
    k4 = await cluster_with_revenue(city, city, YUBEI, "渝北临空集聚区", {2025: "11000000000.00"})
    rejected = await city.post(
        f"/clusters/{k4}/years/2025/verification", json={"decision": "reject", "reason": "口径不符"}
    )
    assert rejected.status_code == 200, rejected.text

    # Designations, with the instants of their writes set: C revoked at the first instant of 2026 in China's time
    # (2025-12-31T16:00:00Z), D one second before it, within 2025.
    instant = {"now": datetime(2025, 3, 1, tzinfo=UTC)}
    monkeypatch.setattr(designations, "utcnow", lambda: instant["now"])
    ids: dict[str, int] = {}
    for name, year in (("A", 2024), ("B", 2025), ("C", 2025), ("D", 2025), ("G", 2023), ("I", 2026)):
        body = {"uscc": e[name], "year": year, "document": f"渝发改服务〔{year}〕{len(ids) + 1}号"}
        response = await city.post("/leading-enterprises", json=body)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
    for name, at in (
        ("C", datetime(2025, 12, 31, 16, 0, 0, tzinfo=UTC)),
        ("D", datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC)),
    ):
        instant["now"] = at
        response = await city.post(f"/leading-enterprises/{ids[name]}/revocation", json={"reason": "撤销认定"})
        assert response.status_code == 200, response.text
    return {"enterprises": e, "k1": k1, "k3": k3}


async def test_the_statistics_of_a_small_registry_worked_by_hand(city, client_for, monkeypatch):
    built = await build_registry(city, client_for, monkeypatch)
    response = await city.get("/monitoring-stats/2025")
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["year"], stats["baseline_year"]) == (2025, 2023)  # the plan's baseline year by default

    # 万州区 modern_logistics — 2025: I (J's figures rejected) = 1, revenue 25,000,000.00, employees 150; I has no
    # 2023 figures: new. 2024: I 20,000,000 + J 7,000,000 = 2, 27,000,000.00.
    # 渝中区 software_it — 2025 verified above: A B C E = 4 (D only submitted); revenue 15 + 13 + 21 + 30 million =
    # 79,000,000.00; employees 120 + 70 + 90 + 200 = 480; new since 2023: B (not above), C (no figures), E (not
    # verified) = 3, A was verified above size in 2023. 2024: A 12,000,000 + B 11,000,000 = 2, 23,000,000.00.
    # 渝中区 tech_rnd — 2025: F not above size: 0; 2024: F = 1, 8,000,000.00.
    # 江北区 tech_rnd — 2025: G = 1, 14,000,000.00, 55; not new (verified above size in 2023, in 渝中区 then); 2024: 0.
    # 江北区 supply_chain — H never above size: no cell.
    # (`prior_year_above_scale_count` and `prior_year_revenue_yuan` are the deprecated names, sent for one release.)
    assert stats["cells"] == [
        {"district_code": WANZHOU, "sector": "modern_logistics", "above_scale_count": 1, "revenue_yuan": "25000000.00",
         "employees": 150, "new_above_scale_since_baseline": 1, "prior_above_scale_count": 2,
         "prior_revenue_yuan": "27000000.00", "prior_year_above_scale_count": 2, "prior_year_revenue_yuan": "27000000.00"},
        {"district_code": YUZHONG, "sector": "software_it", "above_scale_count": 4, "revenue_yuan": "79000000.00",
         "employees": 480, "new_above_scale_since_baseline": 3, "prior_above_scale_count": 2,
         "prior_revenue_yuan": "23000000.00", "prior_year_above_scale_count": 2, "prior_year_revenue_yuan": "23000000.00"},
        {"district_code": YUZHONG, "sector": "tech_rnd", "above_scale_count": 0, "revenue_yuan": "0.00",
         "employees": 0, "new_above_scale_since_baseline": 0, "prior_above_scale_count": 1,
         "prior_revenue_yuan": "8000000.00", "prior_year_above_scale_count": 1, "prior_year_revenue_yuan": "8000000.00"},
        {"district_code": JIANGBEI, "sector": "tech_rnd", "above_scale_count": 1, "revenue_yuan": "14000000.00",
         "employees": 55, "new_above_scale_since_baseline": 0, "prior_above_scale_count": 0,
         "prior_revenue_yuan": "0.00", "prior_year_above_scale_count": 0, "prior_year_revenue_yuan": "0.00"},
    ]  # fmt: skip
    # Clusters: verified 2025 revenue only — K1 and K3 (K2 waits for the city, K4 was rejected), by id.
    assert stats["clusters"] == [
        {"cluster_id": built["k1"], "name": "解放碑数字经济集聚区", "district_code": YUZHONG,
         "revenue_yuan": "12000000000.00"},
        {"cluster_id": built["k3"], "name": "万州现代物流集聚区", "district_code": WANZHOU,
         "revenue_yuan": "10000000000.00"},
    ]  # fmt: skip
    # 领军企业 standing at the end of 2025: A (2024), B (2025), C (revoked at 2026-01-01 00:00 in China: after the
    # year) = 3 in 渝中区 software_it; G (2023) in 江北区 tech_rnd, its district now. D was revoked within 2025; I is
    # designated in 2026.
    assert stats["leading_enterprises"] == [
        {"district_code": YUZHONG, "sector": "software_it", "count": 3},
        {"district_code": JIANGBEI, "sector": "tech_rnd", "count": 1},
    ]

    # Against 2024 as the baseline: new = not verified above size in 2024 — 万州区: I was (0); 渝中区 software_it:
    # C and E (2); 江北区 tech_rnd: G has no 2024 figures (1).
    against_2024 = (await city.get("/monitoring-stats/2025", params={"baseline_year": 2024})).json()
    assert against_2024["baseline_year"] == 2024
    assert [(c["district_code"], c["sector"], c["new_above_scale_since_baseline"]) for c in against_2024["cells"]] == [
        (WANZHOU, "modern_logistics", 0),
        (YUZHONG, "software_it", 2),
        (YUZHONG, "tech_rnd", 0),
        (JIANGBEI, "tech_rnd", 1),
    ]
    assert against_2024["clusters"] == stats["clusters"]

    # 2026: no figures of the year, the 2025 ones as the year before (F was not above size: no cell); clusters none;
    # 领军企业: A, B (C revoked within 2026), G, and I designated in 2026.
    next_year = (await city.get("/monitoring-stats/2026")).json()
    assert [
        (c["district_code"], c["sector"], c["above_scale_count"], c["prior_above_scale_count"],
         c["prior_revenue_yuan"])
        for c in next_year["cells"]
    ] == [
        (WANZHOU, "modern_logistics", 0, 1, "25000000.00"),
        (YUZHONG, "software_it", 0, 4, "79000000.00"),
        (JIANGBEI, "tech_rnd", 0, 1, "14000000.00"),
    ]  # fmt: skip
    assert next_year["clusters"] == []
    assert next_year["leading_enterprises"] == [
        {"district_code": WANZHOU, "sector": "modern_logistics", "count": 1},
        {"district_code": YUZHONG, "sector": "software_it", "count": 2},
        {"district_code": JIANGBEI, "sector": "tech_rnd", "count": 1},
    ]
    # 2024: A B F I J above size (2024) in their cells; G designated 2023, A 2024.
    earlier = (await city.get("/monitoring-stats/2024")).json()
    assert [(c["district_code"], c["sector"], c["above_scale_count"], c["revenue_yuan"]) for c in earlier["cells"]] == [
        (WANZHOU, "modern_logistics", 2, "27000000.00"),
        (YUZHONG, "software_it", 2, "23000000.00"),
        (YUZHONG, "tech_rnd", 1, "8000000.00"),
    ]
    assert earlier["clusters"] == [
        {"cluster_id": built["k3"], "name": "万州现代物流集聚区", "district_code": WANZHOU,
         "revenue_yuan": "8000000000.00"}
    ]  # fmt: skip
    assert earlier["leading_enterprises"] == [
        {"district_code": YUZHONG, "sector": "software_it", "count": 1},
        {"district_code": JIANGBEI, "sector": "tech_rnd", "count": 1},
    ]


async def test_an_empty_registry_gives_empty_parts(city):
    stats = (await city.get("/monitoring-stats/2025")).json()
    assert stats == {"year": 2025, "baseline_year": 2023, "cells": [], "clusters": [], "leading_enterprises": []}


async def test_city_auditor_and_services_read_it_and_district_keys_are_refused(city, client_for):
    for principal in (AUDITOR, SERVICE):
        response = await client_for(principal).get("/monitoring-stats/2025")
        assert response.status_code == 200, response.text
    for principal in (district(YUZHONG), district(JIANGBEI)):
        response = await client_for(principal).get("/monitoring-stats/2025")
        assert response.status_code == 403 and response.headers["content-type"] == "application/problem+json"
        assert "cells" not in response.json()
    assert (await client_for(None).get("/monitoring-stats/2025")).status_code == 401


async def test_a_baseline_year_not_before_the_year_is_a_422_naming_it(city):
    for baseline in (2025, 2026):
        response = await city.get("/monitoring-stats/2025", params={"baseline_year": baseline})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["query", "baseline_year"]
    assert (await city.get("/monitoring-stats/2025", params={"baseline_year": "x"})).status_code == 422
    assert (await city.get("/monitoring-stats/1900")).status_code == 422


async def test_one_statement_per_part_however_many_enterprises(city, client_for, monkeypatch, registry_app):
    """No Python loop over enterprises: the same three statements for a registry of 13 enterprises and of 53."""
    await build_registry(city, client_for, monkeypatch)

    async def statements() -> list[str]:
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        engine = registry_app.state.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert (await city.get("/monitoring-stats/2025")).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return [s for s in seen if any(t in s for t in ("enterprise_years", "cluster_years", "leading_designations"))]

    small = await statements()
    assert len(small) == 3
    rows = [{**enterprise("500106", sector="legal_ip"), "year": 2025, **year_figures("12000000.00")} for _ in range(40)]
    report = (await city.post("/enterprises/import", json=rows, params={"atomic": "true"})).json()
    assert report["rejected"] == [] and report["created"] == 40
    assert len(await statements()) == 3
    cells = (await city.get("/monitoring-stats/2025")).json()["cells"]
    assert {"district_code": "500106", "sector": "legal_ip", "above_scale_count": 40, "revenue_yuan": "480000000.00",
            "employees": 4800, "new_above_scale_since_baseline": 40, "prior_above_scale_count": 0,
            "prior_revenue_yuan": "0.00", "prior_year_above_scale_count": 0,
            "prior_year_revenue_yuan": "0.00"} in cells  # fmt: skip


def test_the_demo_data_carry_cluster_revenues_and_designations(registry_process, monkeypatch) -> None:
    """deploy/seed_demo.py: every cluster's revenue of 2023–2025 (verified: the city writes it), some 百亿级, and a
    dozen 市级领军企业, one revoked; the monitoring statistics of 2025 show them."""
    from deploy import seed_demo
    from tests.registry.test_demo_seed import SignedApi

    url, _ = registry_process
    monkeypatch.setattr(seed_demo, "Api", SignedApi)
    monkeypatch.setattr(seed_demo, "REGISTRY", "")
    counts = seed_demo.seed(url, "city")
    assert (counts["clusters"], counts["cluster_years"], counts["leading_designations"]) == (26, 78, 12)
    api = SignedApi(url, "city")
    try:
        stats = api.call("GET", "/monitoring-stats/2025")
        designations = api.call("GET", "/leading-enterprises?limit=500")["items"]
    finally:
        api.close()
    assert len(stats["clusters"]) == 26
    assert any(Decimal(c["revenue_yuan"]) >= Decimal("10000000000.00") for c in stats["clusters"])
    # The one revocation is made now, after 2025 ended: all 12 stood at the end of 2025.
    assert sum(cell["count"] for cell in stats["leading_enterprises"]) == 12
    assert len(designations) == 12 and sum(not d["live"] for d in designations) == 1
    assert sum(cell["above_scale_count"] for cell in stats["cells"]) > 0
