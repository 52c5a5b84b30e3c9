"""GET /enterprises/{uscc}/matches: per year, what an enterprise qualifies for, to whom the money goes, what the
award ledger already holds, and the measures without a formula."""

from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from shared.uscc import make_uscc
from tests.eligibility.scenario import enterprise, project, seed, year
from tests.support import ANONYMOUS, AUDITOR, CITY, district, truncate

QUERY = {"as_of": "2025-06-30", "year": 2025}


@pytest.fixture
def held_clock(eligibility_app) -> Iterator[None]:
    """The award ledger proposes on the clock's today: held on 2025-06-30 (within the policy's force)."""
    eligibility_app.state.clock.hold(date(2025, 6, 30))
    yield
    eligibility_app.state.clock.hold(None)


def by_subject(body: dict) -> dict[tuple[str, str], dict]:
    return {(m["measure_id"], m["subject_id"]): m for m in body["computable"]}


async def test_matches_of_an_enterprise_with_projects_a_cluster_and_a_spin_off(client_for, registry):
    s = await seed(registry)
    response = await client_for(district("500103")).get(f"/enterprises/{s.e1}/matches", params=QUERY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy_in_force"] is True and body["not_applicable_reason"] is None and body["year"] == 2025
    found = {
        key: (m["recipient_kind"], m["recipient"], m["amount_yuan"], m["open_yuan"], m["held"], m["year"])
        for key, m in by_subject(body).items()
    }
    assert found == {
        # （一）10% × 12,345,678.95 = 1,234,567.895 → half-up; its 2024 project p4 is not in a 2025 match.
        ("M01", s.p1): ("enterprise", s.e1, "1234567.90", "1234567.90", None, 2025),
        # （十三）30% × 100.05 = 30.015 → 30.02
        ("M13", s.p3): ("enterprise", s.e1, "30.02", "30.02", None, 2025),
        # （三）the cluster it manages, grade A tier 2: the money goes to 渝中区, the body c1 belongs to.
        ("M03", s.c1): ("district", "500103", "6000000.00", "6000000.00", None, 2025),
        # （七）first listing: 给予相应区县, the district's money, not the enterprise's.
        ("M07a", s.e1): ("district", "500103", "5000000.00", "5000000.00", None, 2025),
        # （七）spin-off newly set up (2024-11-19) with revenue 25,000,000 ≥ 20,000,000: the enterprise's.
        ("M07b", s.e1): ("enterprise", s.e1, "1000000.00", "1000000.00", None, 2025),
    }
    # Its own: 1,234,567.90 + 30.02 + 1,000,000.00; to others (渝中区): 6,000,000.00 + 5,000,000.00.
    assert Decimal(body["total_amount_yuan"]) == Decimal("2234597.92")
    assert Decimal(body["amount_to_others_yuan"]) == Decimal("11000000.00")
    m07a = by_subject(body)[("M07a", s.e1)]
    assert m07a["lead_department_zh"] == "市发展改革委"
    assert m07a["trace"][-1] == {
        "step": "amount",
        "value": "5000000.00",
        "citation": "渝发改规范〔2024〕7号 第（七）条",
    }
    covered = next(step for step in m07a["trace"] if step["step"] == "year covered by the policy")
    assert covered["value"] == "yes: 2025 is within 2024–2027"
    others = {m["measure_id"]: m for m in body["other_measures"]}
    assert set(others) == {"M04", "M08", "M09", "M10", "M11", "M12", "M15", "M16"}
    assert others["M04"]["applies"] == "applies" and "manages the cluster" in others["M04"]["basis"]
    assert others["M08"]["lead_department_zh"] == "市委金融办"
    assert "start-up or growth stage" in others["M08"]["basis"]  # established 2024-11-19
    assert others["M11"]["applies"] == "may_apply"  # supply chain is not a knowledge-intensive sector of （十一）
    assert others["M16"]["lead_department_zh"] == "市规划自然资源局"


async def test_a_match_counts_only_the_projects_of_its_year(client_for, registry):
    s = await seed(registry)
    body = (await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params={**QUERY, "year": 2024})).json()
    # 2024: only p4 (（一）10% × 1,000,000.00 = 100,000.00). e1 was not listed in 2024 (no M07a), its 2024 revenue
    # 18,000,000 is below （七）'s 20,000,000 (no M07b), and c1 has no 2024 evaluation (no M03).
    assert [(m["measure_id"], m["subject_id"], m["year"], m["amount_yuan"]) for m in body["computable"]] == [
        ("M01", s.p4, 2024, "100000.00")
    ]
    assert body["total_amount_yuan"] == "100000.00" and body["amount_to_others_yuan"] == "0.00"


async def test_matches_of_an_enterprise_with_less(client_for, registry):
    s = await seed(registry)
    body = (await client_for(CITY).get(f"/enterprises/{s.e2}/matches", params=QUERY)).json()
    # Its platform is at exactly 5,000,000 (not above), it was listed before 2025; only its building qualifies:
    # （五）12,000,000 over 10,000,000 is growth of exactly 20%, tier 1: 1,000,000 to the operator.
    assert [(m["measure_id"], m["recipient_kind"], m["recipient"], m["amount_yuan"]) for m in body["computable"]] == [
        ("M05", "enterprise", s.e2, "1000000.00")
    ]
    assert body["total_amount_yuan"] == "1000000.00" and body["amount_to_others_yuan"] == "0.00"
    others = {m["measure_id"]: m for m in body["other_measures"]}
    assert others["M04"]["applies"] == "may_apply"  # a cluster exists in its district
    assert others["M11"]["applies"] == "applies"  # software and information services


async def test_what_the_ledger_holds_is_shown_held_and_not_offered_again(client_for, registry, held_clock):
    s = await seed(registry)
    city = client_for(CITY)
    proposed = {}
    for measure_id, subject_id, amount in (
        ("M07a", s.e1, "5000000.00"),  # （七）the district's 500强 reward, in full
        ("M07b", s.e1, "1000000.00"),  # （七）the spin-off's reward, in full: a different recipient, its own key
        ("M01", s.p1, "1000000.00"),  # （一）less than the 1,234,567.90 the rules give
    ):
        response = await city.post(
            "/awards",
            json={"measure_id": measure_id, "subject_type": "enterprise" if measure_id != "M01" else "project",
                  "subject_id": subject_id, "amount_yuan": amount},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        proposed[measure_id] = response.json()
    assert proposed["M07a"]["stacking_key"] != proposed["M07b"]["stacking_key"]

    body = (await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params=QUERY)).json()
    found = by_subject(body)
    for measure_id, subject_id, amount, still_open in (
        ("M07a", s.e1, "5000000.00", "0.00"),
        ("M07b", s.e1, "1000000.00", "0.00"),
        ("M01", s.p1, "1000000.00", "234567.90"),  # 1,234,567.90 − 1,000,000.00: only the difference is open
    ):
        item = found[(measure_id, subject_id)]
        assert item["held"] == {
            "award_id": proposed[measure_id]["id"],
            "policy": "渝发改规范〔2024〕7号",
            "measure_id": measure_id,
            "status": "proposed",
            "amount_yuan": amount,
        }
        assert item["open_yuan"] == still_open
    assert found[("M13", s.p3)]["held"] is None and found[("M03", s.c1)]["held"] is None
    # Its own open money: 234,567.90 (M01) + 30.02 (M13) + 0.00 (M07b); to 渝中区: 6,000,000.00 (M03) + 0.00 (M07a).
    assert body["total_amount_yuan"] == "234597.92"
    assert body["amount_to_others_yuan"] == "6000000.00"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        # 七、附则: 有效期至2027年12月31日 — on 2028-01-01 nothing applies, not even the measures without a formula.
        ({"as_of": "2028-01-01", "year": 2027}, "not in force on 2028-01-01"),
        ({"as_of": "2024-11-18", "year": 2024}, "not in force on 2024-11-18"),
        # In force, but 2023 is not a year the policy rewards (2024–2027).
        ({"as_of": "2025-06-30", "year": 2023}, "rewards the years 2024–2027, not 2023"),
    ],
)
async def test_nothing_applies_outside_the_validity_or_the_rewarded_years(client_for, registry, query, reason):
    s = await seed(registry)
    response = await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["policy_in_force"] is False and reason in body["not_applicable_reason"]
    assert body["computable"] == [] and body["other_measures"] == []
    assert body["total_amount_yuan"] == "0.00" and body["amount_to_others_yuan"] == "0.00"


async def test_auditor_reads_any_enterprise_and_a_district_only_its_own(client_for, registry):
    s = await seed(registry)
    assert (await client_for(AUDITOR).get(f"/enterprises/{s.e3}/matches", params=QUERY)).status_code == 200
    other = await client_for(district("500103")).get(f"/enterprises/{s.e3}/matches", params=QUERY)
    assert other.status_code == 403 and "500112" not in other.json()["detail"]  # e3 is 500112's: not said
    assert (await client_for(ANONYMOUS).get(f"/enterprises/{s.e3}/matches")).status_code == 401
    assert (await client_for(None).get(f"/enterprises/{s.e3}/matches")).status_code == 401


async def test_unknown_and_invalid_credit_codes(client_for, registry):
    s = await seed(registry)
    missing = await client_for(CITY).get(f"/enterprises/{make_uscc('91500103999999999')}/matches", params=QUERY)
    assert missing.status_code == 404
    wrong_check = s.e1[:17] + ("1" if s.e1[17] == "0" else "0")
    bad = await client_for(CITY).get(f"/enterprises/{wrong_check}/matches", params=QUERY)
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["path", "uscc"]
    assert "check character" in bad.json()["errors"][0]["msg"]


@pytest.mark.parametrize(("query", "loc"), [({"year": 1800}, ["query", "year"]), ({"as_of": "x"}, ["query", "as_of"])])
async def test_bad_query_is_a_422_problem(client_for, registry, query, loc):
    s = await seed(registry)
    response = await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params=query)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == loc


OTHER_POLICY = {
    "document_number": "渝经信发〔2023〕12号",
    "title": "重庆市支持软件和信息服务业发展若干政策",
    "issuer": "重庆市经济和信息化委员会",
    "effective_from": "2023-06-01",
    "effective_to": "2026-12-31",
}


async def _forget_other_policies(app) -> None:
    await truncate(app, ("award_events", "awards"))
    async with app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM policies WHERE created_by <> 'migration'"))


@pytest.fixture
async def other_policy(eligibility_app, client_for) -> AsyncIterator[dict]:
    """Another city policy in the register (removed afterwards, the migration's row kept)."""
    await _forget_other_policies(eligibility_app)
    response = await client_for(CITY).post("/policies", json=OTHER_POLICY)
    assert response.status_code == 201, response.text
    yield response.json()
    await _forget_other_policies(eligibility_app)


async def test_a_higher_award_under_another_policy_leaves_nothing_open(client_for, registry, held_clock, other_policy):
    # 附则 就高不重复: another city policy already supports p1 with 2,000,000.00, more than the 1,234,567.90 （一）
    # gives; nothing of p1 is open. A lower one (p3's 10.00 against （十三）'s 30.02) leaves the difference open.
    s = await seed(registry)
    city = client_for(CITY)
    held = {}
    for subject_id, amount in ((s.p1, "2000000.00"), (s.p3, "10.00")):
        response = await city.post(
            "/awards",
            json={"policy_id": other_policy["id"], "measure_id": "第五条", "subject_type": "project",
                  "subject_id": subject_id, "amount_yuan": amount},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        held[subject_id] = response.json()
    body = (await city.get(f"/enterprises/{s.e1}/matches", params=QUERY)).json()
    found = by_subject(body)
    assert found[("M01", s.p1)]["held"] == {
        "award_id": held[s.p1]["id"],
        "policy": "渝经信发〔2023〕12号",
        "measure_id": "第五条",
        "status": "proposed",
        "amount_yuan": "2000000.00",
    }
    assert found[("M01", s.p1)]["amount_yuan"] == "1234567.90" and found[("M01", s.p1)]["open_yuan"] == "0.00"
    assert found[("M13", s.p3)]["open_yuan"] == "20.02"  # 30.02 − 10.00
    # Its own open money: 0.00 (M01) + 20.02 (M13) + 1,000,000.00 (M07b).
    assert body["total_amount_yuan"] == "1000020.02"
    assert body["amount_to_others_yuan"] == "11000000.00"  # M03 6,000,000.00 + M07a 5,000,000.00, none held


async def test_a_project_with_a_project_code_is_held_under_its_code(client_for, registry, held_clock):
    owner = await enterprise(registry, "500105", sector="software_it", spun_off=False)
    coded = await project(
        registry,
        kind="investment",
        owner_uscc=owner,
        year=2025,
        project_code="2025-500105-65-03-000123",
        verified_investment_yuan="2000000.00",
    )
    # Proposed by its 项目代码, found by the match that reads the project by its registry id: one subject.
    response = await client_for(CITY).post(
        "/awards",
        json={"measure_id": "M01", "subject_type": "project", "subject_id": "2025-500105-65-03-000123",
              "amount_yuan": "150000.00"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["stacking_key"] == "project:2025-500105-65-03-000123"
    body = (await client_for(CITY).get(f"/enterprises/{owner}/matches", params=QUERY)).json()
    [item] = body["computable"]
    # （一）10% × 2,000,000.00 = 200,000.00; 150,000.00 held; 50,000.00 open.
    assert (item["subject_id"], item["amount_yuan"], item["open_yuan"]) == (coded, "200000.00", "50000.00")
    assert item["held"]["award_id"] == response.json()["id"]
    assert body["total_amount_yuan"] == "50000.00"


async def test_a_cluster_award_of_the_year_is_held_for_its_body(client_for, registry, held_clock):
    s = await seed(registry)
    response = await client_for(CITY).post(
        "/awards",
        json={"measure_id": "M03", "subject_type": "cluster", "subject_id": s.c1, "year": 2025,
              "amount_yuan": "6000000.00"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert (response.json()["recipient_kind"], response.json()["recipient"]) == ("district", "500103")
    body = (await client_for(CITY).get(f"/enterprises/{s.e1}/matches", params=QUERY)).json()
    m03 = by_subject(body)[("M03", s.c1)]
    assert m03["held"]["award_id"] == response.json()["id"] and m03["open_yuan"] == "0.00"
    # （三）6,000,000.00 held for 渝中区: only M07a's 5,000,000.00 is still open for the district.
    assert body["amount_to_others_yuan"] == "5000000.00"
    assert body["total_amount_yuan"] == "2234597.92"  # the enterprise's own money is untouched


async def test_an_old_enterprise_spun_off_is_not_matched_to_m07b(client_for, registry):
    # 第（七）条 分离后新设立: established 2007-05-10, before m07b.newly_established_from (2024-11-19).
    old = await enterprise(registry, "500106", sector="modern_logistics", spun_off=True, established_on="2007-05-10")
    await year(registry, old, 2025, "25000000.00", top500=False)
    body = (await client_for(CITY).get(f"/enterprises/{old}/matches", params=QUERY)).json()
    assert body["policy_in_force"] is True and body["computable"] == []
    assert body["total_amount_yuan"] == "0.00" and body["amount_to_others_yuan"] == "0.00"
    new = await enterprise(registry, "500106", sector="modern_logistics", spun_off=True, established_on="2024-11-19")
    await year(registry, new, 2025, "25000000.00", top500=False)
    body = (await client_for(CITY).get(f"/enterprises/{new}/matches", params=QUERY)).json()
    # （七）最高不超过100万元: 1,000,000.00 to the new enterprise itself.
    assert [(m["measure_id"], m["recipient_kind"], m["recipient"], m["open_yuan"]) for m in body["computable"]] == [
        ("M07b", "enterprise", new, "1000000.00")
    ]
    assert body["total_amount_yuan"] == "1000000.00"
