"""District statistics for 第（六）条, checked against a scenario worked out by hand."""

from tests.registry.factories import enterprise
from tests.support import district


def rows_for(body: dict, figures: dict[int, tuple[str, bool]]) -> list[dict]:
    return [
        {**body, "year": year, "revenue_yuan": revenue, "employees": 50, "above_scale": above}
        for year, (revenue, above) in figures.items()
    ]


async def test_district_stats_scenario_worked_by_hand(city, client_for):
    yuzhong, jiangbei, wanzhou = "500103", "500105", "500101"
    scenario = [
        # 渝中区: A and B above size in both years (comparable), C and D newly above, E and F exited, G never.
        (yuzhong, {2024: ("10000000.00", True), 2025: ("12000000.00", True)}),  # A
        (yuzhong, {2024: ("20000000.00", True), 2025: ("19000000.00", True)}),  # B
        (yuzhong, {2024: ("8000000.00", False), 2025: ("11000000.00", True)}),  # C
        (yuzhong, {2025: ("5000000.00", True)}),  # D
        (yuzhong, {2024: ("6000000.00", True), 2025: ("4000000.00", False)}),  # E
        (yuzhong, {2024: ("7000000.00", True)}),  # F
        (yuzhong, {2024: ("1000000.00", False), 2025: ("1500000.00", False)}),  # G
        (yuzhong, {2023: ("9000000.00", True)}),  # K: above size only in 2023, outside both years
        # 江北区: H comparable, I new.
        (jiangbei, {2024: ("3000000.00", True), 2025: ("3600000.00", True)}),  # H
        (jiangbei, {2025: ("2500000.50", True)}),  # I
        # 万州区: J exited.
        (wanzhou, {2024: ("9000000.00", True), 2025: ("9500000.00", False)}),  # J
    ]
    rows = [row for code, figures in scenario for row in rows_for(enterprise(code), figures)]
    report = (await city.post("/enterprises/import", json=rows, params={"atomic": "true"})).json()
    assert report["rejected"] == [] and report["created"] == 11

    stats = (await city.get("/district-stats/2025")).json()
    assert (stats["year"], stats["base_year"]) == (2025, 2024)
    # 2025 figures: A B C D E G H I J = 9; 2024 figures: A B C E F G H J = 8.
    assert (stats["enterprise_years_in_year"], stats["enterprise_years_in_base_year"]) == (9, 8)
    assert len(stats["districts"]) == 38
    by_code = {row["district_code"]: row for row in stats["districts"]}

    # 渝中区: above 2025 = A B C D (4); above 2024 = A B E F (4); new = C D; exited = E F; net 0.
    # Revenue 2025 of those above = 12,000,000 + 19,000,000 + 11,000,000 + 5,000,000 = 47,000,000.00.
    # Comparable basis A + B: 31,000,000 / 30,000,000 − 1 = 0.0333333… → 0.033333.
    assert by_code[yuzhong] == {
        "district_code": yuzhong,
        "district_name": "渝中区",
        "above_scale_count": 4,
        "prior_above_scale_count": 4,
        "new_above_scale_count": 2,
        "exited_count": 2,
        "net_increase": 0,
        "revenue_yuan": "47000000.00",
        "comparable_count": 2,
        "comparable_revenue_yuan": "31000000.00",
        "comparable_prior_revenue_yuan": "30000000.00",
        "revenue_growth": "0.033333",
    }
    # 江北区: H comparable (3,600,000 / 3,000,000 − 1 = 0.2), I new; revenue 3,600,000 + 2,500,000.50.
    assert by_code[jiangbei] == {
        "district_code": jiangbei,
        "district_name": "江北区",
        "above_scale_count": 2,
        "prior_above_scale_count": 1,
        "new_above_scale_count": 1,
        "exited_count": 0,
        "net_increase": 1,
        "revenue_yuan": "6100000.50",
        "comparable_count": 1,
        "comparable_revenue_yuan": "3600000.00",
        "comparable_prior_revenue_yuan": "3000000.00",
        "revenue_growth": "0.200000",
    }
    # 万州区: J exited; no comparable base, so no growth rate.
    assert (by_code[wanzhou]["net_increase"], by_code[wanzhou]["exited_count"], by_code[wanzhou]["revenue_growth"]) == (
        -1,
        1,
        None,
    )
    assert by_code["500243"]["above_scale_count"] == 0 and by_code["500243"]["revenue_yuan"] == "0.00"
    for row in stats["districts"]:
        assert row["new_above_scale_count"] - row["exited_count"] == row["net_increase"]

    # Any key holder may read the aggregate figures.
    assert (await client_for(district("500110")).get("/district-stats/2025")).status_code == 200


async def test_district_stats_bad_year(city, client_for):
    assert (await city.get("/district-stats/2000")).status_code == 422
    assert (await city.get("/district-stats/twenty")).status_code == 422
    assert (await client_for(None).get("/district-stats/2025")).status_code == 401
