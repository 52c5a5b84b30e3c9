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
        (yuzhong, {2024: ("7000000.00", True)}),  # F: no 2025 record (unreported, not an exit)
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
    # All imported by the city, the figures' authority: all verified.
    assert (stats["verified_enterprise_years_in_year"], stats["verified_enterprise_years_in_base_year"]) == (9, 8)
    assert len(stats["districts"]) == 38
    by_code = {row["district_code"]: row for row in stats["districts"]}

    # 渝中区: above 2025 = A B C D (4); above 2024 = A B E F (4); new = C D; exited = E (recorded as not above in
    # 2025); F has no 2025 record: unreported, not an exit; net 0 = 2 new + 0 moved in − 1 exited − 0 − 1 unreported.
    # Revenue 2025 of those above = 12,000,000 + 19,000,000 + 11,000,000 + 5,000,000 = 47,000,000.00.
    # Comparable basis A + B: 31,000,000 / 30,000,000 − 1 = 0.0333333… → 0.033333.
    assert by_code[yuzhong] == {
        "district_code": yuzhong,
        "district_name": "渝中区",
        "above_scale_count": 4,
        "prior_above_scale_count": 4,
        "new_above_scale_count": 2,
        "moved_in_count": 0,
        "moved_out_count": 0,
        "exited_count": 1,
        "unreported_count": 1,
        "awaiting_verification_count": 0,
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
        "moved_in_count": 0,
        "moved_out_count": 0,
        "exited_count": 0,
        "unreported_count": 0,
        "awaiting_verification_count": 0,
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
        assert row["net_increase"] == (
            row["new_above_scale_count"]
            + row["moved_in_count"]
            - row["exited_count"]
            - row["moved_out_count"]
            - row["unreported_count"]
        )

    # Any key holder may read the aggregate figures.
    assert (await client_for(district("500110")).get("/district-stats/2025")).status_code == 200


async def test_district_stats_bad_year(city, client_for):
    assert (await city.get("/district-stats/2000")).status_code == 422
    assert (await city.get("/district-stats/twenty")).status_code == 422
    assert (await client_for(None).get("/district-stats/2025")).status_code == 401


def row_of(stats: dict, code: str) -> dict:
    return next(row for row in stats["districts"] if row["district_code"] == code)


async def test_only_verified_years_count_each_in_the_district_of_its_year(city, client_for):
    """第（六）条 counts above-size enterprises per district: worked by hand for 2025 against 2024.

    渝中区 500103: M (moves to 江北区 after 2024), U (2025 submitted by the district, not verified), X (no 2025 record),
    Y (verified as not above size in 2025); all four above size and verified in 2024 in 渝中区.
    江北区 500105: R (2024 submitted by the district and rejected by the city; 2025 verified above size), N (2025 above
    size, submitted by the district only).
    """
    yuzhong_code, jiangbei_code = "500103", "500105"
    yuzhong, jiangbei = client_for(district(yuzhong_code)), client_for(district(jiangbei_code))

    async def new(code: str) -> str:
        body = enterprise(code)
        assert (await city.post("/enterprises", json=body)).status_code == 201
        return str(body["uscc"])

    def figures(revenue: str, above: bool = True) -> dict:
        return {"revenue_yuan": revenue, "employees": 80, "above_scale": above}

    m, u, x, y = [await new(yuzhong_code) for _ in range(4)]
    r, n = await new(jiangbei_code), await new(jiangbei_code)
    for uscc in (m, u, x, y):
        assert (await city.put(f"/enterprises/{uscc}/years/2024", json=figures("30000000.00"))).status_code == 201
    assert (await jiangbei.put(f"/enterprises/{r}/years/2024", json=figures("14000000.00"))).status_code == 201
    rejected = await city.post(
        f"/enterprises/{r}/years/2024/verification", json={"decision": "reject", "reason": "名录无此企业"}
    )
    assert rejected.status_code == 200
    before_the_move = (await city.get("/district-stats/2024")).json()

    # M moves to 江北区; its 2025 figures are recorded there (the enterprise's district when written).
    assert (await city.patch(f"/enterprises/{m}", json={"district_code": jiangbei_code})).status_code == 200
    moved = await city.put(f"/enterprises/{m}/years/2025", json=figures("33000000.00"))
    assert moved.status_code == 201 and moved.json()["district_code"] == jiangbei_code
    assert (await yuzhong.put(f"/enterprises/{u}/years/2025", json=figures("31000000.00"))).status_code == 201
    assert (await city.put(f"/enterprises/{y}/years/2025", json=figures("9000000.00", above=False))).status_code == 201
    assert (await city.put(f"/enterprises/{r}/years/2025", json=figures("15000000.00"))).status_code == 201
    assert (await jiangbei.put(f"/enterprises/{n}/years/2025", json=figures("50000000.00"))).status_code == 201

    # The move rewrites nothing of 2024: both districts' rows are as they were.
    after_the_move = (await city.get("/district-stats/2024")).json()
    for code in (yuzhong_code, jiangbei_code):
        assert row_of(after_the_move, code) == row_of(before_the_move, code)
    # 2024: M U X Y above size and verified in 渝中区 (4, all new against 2023); R's rejected figures do not count
    # and wait for verification (a rejected record is not verified).
    assert (
        row_of(after_the_move, yuzhong_code)["above_scale_count"],
        row_of(after_the_move, yuzhong_code)["new_above_scale_count"],
    ) == (4, 4)
    assert row_of(after_the_move, jiangbei_code)["above_scale_count"] == 0
    assert row_of(after_the_move, jiangbei_code)["awaiting_verification_count"] == 1

    stats = (await city.get("/district-stats/2025")).json()
    # 2025 figures held: M U Y R N = 5, verified M Y R = 3; 2024: M U X Y R = 5, verified 4.
    assert (stats["enterprise_years_in_year"], stats["verified_enterprise_years_in_year"]) == (5, 3)
    assert (stats["enterprise_years_in_base_year"], stats["verified_enterprise_years_in_base_year"]) == (5, 4)
    # 渝中区: above 2025 none; prior M U X Y (4); M moved out; Y exited (recorded as not above size); U (not verified)
    # and X (no record) are unreported, not exits; U awaits verification. −4 = 0 + 0 − 1 − 1 − 2.
    assert row_of(stats, yuzhong_code) == {
        "district_code": yuzhong_code,
        "district_name": "渝中区",
        "above_scale_count": 0,
        "prior_above_scale_count": 4,
        "new_above_scale_count": 0,
        "moved_in_count": 0,
        "moved_out_count": 1,
        "exited_count": 1,
        "unreported_count": 2,
        "awaiting_verification_count": 1,
        "net_increase": -4,
        "revenue_yuan": "0.00",
        "comparable_count": 0,
        "comparable_revenue_yuan": "0.00",
        "comparable_prior_revenue_yuan": "0.00",
        "revenue_growth": None,
    }
    # 江北区: M moved in, R new (its 2024 figures were rejected); N only submitted: not counted, awaiting.
    # Revenue 33,000,000 + 15,000,000; no enterprise above size here in both years: no growth rate. +2 = 1 + 1.
    assert row_of(stats, jiangbei_code) == {
        "district_code": jiangbei_code,
        "district_name": "江北区",
        "above_scale_count": 2,
        "prior_above_scale_count": 0,
        "new_above_scale_count": 1,
        "moved_in_count": 1,
        "moved_out_count": 0,
        "exited_count": 0,
        "unreported_count": 0,
        "awaiting_verification_count": 1,
        "net_increase": 2,
        "revenue_yuan": "48000000.00",
        "comparable_count": 0,
        "comparable_revenue_yuan": "0.00",
        "comparable_prior_revenue_yuan": "0.00",
        "revenue_growth": None,
    }

    # The city verifies U's 2025 figures: U is above size in 渝中区 in both years now (comparable, 31/30 − 1).
    assert (
        await city.post(f"/enterprises/{u}/years/2025/verification", json={"decision": "verify"})
    ).status_code == 200
    yuzhong_row = row_of((await city.get("/district-stats/2025")).json(), yuzhong_code)
    assert (yuzhong_row["above_scale_count"], yuzhong_row["comparable_count"], yuzhong_row["unreported_count"]) == (
        1,
        1,
        1,
    )
    assert (yuzhong_row["awaiting_verification_count"], yuzhong_row["net_increase"]) == (0, -3)
    assert yuzhong_row["revenue_growth"] == "0.033333"


async def test_the_year_records_its_district(city, client_for):
    body = enterprise("500103")
    await city.post("/enterprises", json=body)
    url = f"/enterprises/{body['uscc']}/years"
    # A district names only its own district for a year: 403, nothing written.
    foreign = await client_for(district("500103")).put(
        f"{url}/2024", json={"revenue_yuan": "1", "employees": 1, "above_scale": False, "district_code": "500105"}
    )
    assert foreign.status_code == 403
    assert (await city.get(f"/enterprises/{body['uscc']}")).json()["years"] == []
    # The city may name another district (e.g. the year before a recorded move).
    named = await city.put(
        f"{url}/2023", json={"revenue_yuan": "1", "employees": 1, "above_scale": False, "district_code": "500105"}
    )
    assert named.status_code == 201 and named.json()["district_code"] == "500105"
    # Rewriting the year without naming a district keeps the district it records.
    kept = await city.put(f"{url}/2023", json={"revenue_yuan": "2", "employees": 1, "above_scale": False})
    assert kept.status_code == 200 and kept.json()["district_code"] == "500105"
    # 渝中区 may not rewrite a year recorded for 江北区, even of its own enterprise.
    other = await client_for(district("500103")).put(
        f"{url}/2023", json={"revenue_yuan": "3", "employees": 1, "above_scale": False}
    )
    assert other.status_code == 403
    bad = await city.put(
        f"{url}/2023", json={"revenue_yuan": "2", "employees": 1, "above_scale": False, "district_code": "500199"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "district_code"


async def test_an_import_keeps_each_year_in_its_district(city, client_for):
    """An enterprise of 渝中区 with 2024 figures moves to 江北区: 江北区's import adds 2025 in 江北区 but may not rewrite
    渝中区's 2024 (the row is rejected naming the year); an unchanged 2024 in the city's import keeps 渝中区."""
    body = enterprise("500103")
    base = {**body, "employees": 50, "above_scale": True}
    report = (
        await city.post("/enterprises/import", json=[{**base, "year": 2024, "revenue_yuan": "30000000.00"}])
    ).json()
    assert report["years_written"] == 1
    assert (await city.patch(f"/enterprises/{body['uscc']}", json={"district_code": "500105"})).status_code == 200
    moved = {**base, "district_code": "500105"}
    jiangbei = client_for(district("500105"))
    rewrite = (
        await jiangbei.post("/enterprises/import", json=[{**moved, "year": 2024, "revenue_yuan": "1.00"}])
    ).json()
    assert rewrite["years_written"] == 0 and rewrite["rejected"][0]["errors"][0]["loc"] == ["year"]
    assert "recorded for district 500103" in rewrite["rejected"][0]["errors"][0]["msg"]
    added = (
        await jiangbei.post("/enterprises/import", json=[{**moved, "year": 2025, "revenue_yuan": "33000000.00"}])
    ).json()
    assert added["years_written"] == 1 and added["rejected"] == []
    city_again = [{**moved, "year": 2024, "revenue_yuan": "30500000.00"}]
    assert (await city.post("/enterprises/import", json=city_again)).json()["years_written"] == 1
    years = (await city.get(f"/enterprises/{body['uscc']}")).json()["years"]
    assert [(y["year"], y["district_code"], y["revenue_yuan"], y["verification"]["status"]) for y in years] == [
        (2024, "500103", "30500000.00", "verified"),
        (2025, "500105", "33000000.00", "submitted"),
    ]
