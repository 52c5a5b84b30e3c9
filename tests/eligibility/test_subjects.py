"""From registry records to facts (pure): which subject meets which measure, whom it pays, and what a missing or
unverified fact does."""

from datetime import date
from decimal import Decimal

from services.eligibility.rules.m01_project_grant import M01Facts
from services.eligibility.rules.m02_public_platform import M02Facts
from services.eligibility.rules.m03_a_grade_cluster import M03Facts
from services.eligibility.rules.m05_star_building import M05Facts
from services.eligibility.rules.m07a_top500_first_listing import M07aFacts
from services.eligibility.rules.m07b_manufacturer_spin_off import M07bFacts
from services.eligibility.screenings import subjects

OWNER = "91500103000000001X"
# The registry's `verification` of a fact that decides money: written by the city, verified as written; written by
# a district, submitted and waiting for the city; or rejected by the city.
VERIFIED = {
    "status": "verified",
    "submitted_by": "city",
    "submitted_at": "2025-03-01T02:00:00Z",
    "verified_by": "city",
    "verified_at": "2025-03-01T02:00:00Z",
    "reason": None,
}
SUBMITTED = {
    "status": "submitted",
    "submitted_by": "district:500103",
    "submitted_at": "2025-03-01T02:00:00Z",
    "verified_by": None,
    "verified_at": None,
    "reason": None,
}
REJECTED = {**SUBMITTED, "status": "rejected", "verified_by": "city", "verified_at": "2025-03-02T02:00:00Z",
            "reason": "投资额与审计报告不符"}  # fmt: skip


def project(**fields):
    return {
        "id": 1,
        "kind": "investment",
        "owner_uscc": OWNER,
        "district_code": "500103",
        "name": "项目",
        "year": 2025,
        "project_code": None,
        "platform_domain": None,
        "verified_investment_yuan": "1000.00",
        "actual_spend_yuan": None,
        "special_major_approved": False,
        "duplicate_of_id": None,
        "verification": VERIFIED,
        **fields,
    }


def test_projects_of_the_year_by_kind():
    found, gaps = subjects.project_candidates(
        [
            project(id=1),
            project(id=2, kind="platform", platform_domain="ip_operation", verified_investment_yuan="6000000.00"),
            project(id=3, kind="platform", platform_domain="unlisted_domain"),
            project(id=4, kind="event", verified_investment_yuan=None, actual_spend_yuan="10.00"),
            project(id=5, year=2024),
            project(id=6, verified_investment_yuan=None),
        ],
        2025,
    )
    assert [(c.measure_id, c.subject_id) for c in found] == [("M01", "1"), ("M02", "2"), ("M02", "3"), ("M13", "4")]
    assert found[0].facts == M01Facts(verified_investment_yuan=Decimal("1000.00"), special_major_approved=False)
    assert found[1].facts == M02Facts(platform_domain="ip_operation", verified_investment_yuan=Decimal("6000000.00"))
    assert found[2].facts.platform_domain == "other"  # an unlisted domain is evaluated, and refused, as such
    # （一）（二）（十三）pay the project's owner, for the project's year.
    assert {(c.recipient_kind, c.recipient, c.year) for c in found} == {("enterprise", OWNER, 2025)}
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [("M01", "6", "fact_missing")]


def test_only_verified_project_facts_count_and_a_duplicate_is_a_gap():
    found, gaps = subjects.project_candidates(
        [
            project(id=1),
            project(id=2, verification=SUBMITTED),
            project(
                id=3, kind="event", verified_investment_yuan=None, actual_spend_yuan="10.00", verification=REJECTED
            ),
            project(id=4, duplicate_of_id=1),
        ],
        2025,
    )
    assert [(c.measure_id, c.subject_id) for c in found] == [("M01", "1")]
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [
        ("M01", "2", "awaiting_verification"),
        ("M13", "3", "verification_rejected"),
        ("M01", "4", "duplicate_project"),
    ]
    assert "submitted by district:500103" in gaps[0].message
    assert "投资额与审计报告不符" in gaps[1].message
    assert "project 1" in gaps[2].message


def cluster(id_, evaluations, **fields):
    return {"id": id_, "name": "集聚区", "district_code": "500103", "manager_uscc": OWNER,
            "belongs_to": {"kind": "district", "district_code": "500103"}, "evaluations": evaluations, **fields}  # fmt: skip


def evaluation(year, verification=VERIFIED):
    return {"year": year, "grade": "A", "score": "90.00", "tier": 1, "verification": verification}


def test_clusters_need_a_verified_evaluation_of_the_year():
    found, gaps = subjects.cluster_candidates(
        [
            cluster(1, [evaluation(2024)]),
            cluster(2, [evaluation(2025)]),
            cluster(3, [evaluation(2025, SUBMITTED)]),
            cluster(4, [evaluation(2025, REJECTED)]),
        ],
        2025,
    )
    assert [(c.subject_id, c.facts, c.year) for c in found] == [("2", M03Facts(grade="A", tier=1), 2025)]
    assert [(g.subject_id, g.code) for g in gaps] == [
        ("1", "no_evaluation"),
        ("3", "awaiting_verification"),
        ("4", "verification_rejected"),
    ]


def test_m03_pays_the_body_the_cluster_belongs_to_not_its_manager():
    # 第（三）条: 奖励资金按照集聚区隶属关系由所在区县政府或市级部门（含开发区管委会）管理使用.
    found, _ = subjects.cluster_candidates(
        [
            cluster(1, [evaluation(2025)]),
            cluster(2, [evaluation(2025)], belongs_to={"kind": "city_department", "department": "两江新区管委会"}),
            cluster(3, [evaluation(2025)], belongs_to={"kind": "district", "district_code": "500112"}),
            cluster(4, [evaluation(2025)], belongs_to=None),  # none recorded: the cluster's own district
        ],
        2025,
    )
    assert [(c.subject_id, c.recipient_kind, c.recipient) for c in found] == [
        ("1", "district", "500103"),
        ("2", "city_department", "两江新区管委会"),
        ("3", "district", "500112"),
        ("4", "district", "500103"),
    ]
    assert {c.district_code for c in found} == {"500103"}  # the cluster's district, whoever receives the money


def building(id_, years, verification=VERIFIED):
    return {"id": id_, "name": "楼", "district_code": "500103", "operator_uscc": OWNER, "stars": 3,
            "verification": verification, "years": years}  # fmt: skip


def revenue(year, amount, verification=VERIFIED):
    return {"year": year, "revenue_yuan": amount, "verification": verification}


def test_buildings_need_two_years_of_verified_revenue_and_a_verified_grade():
    found, gaps = subjects.building_candidates(
        [
            building(1, [revenue(2024, "100.00"), revenue(2025, "130.00")]),
            building(2, [revenue(2025, "130.00")]),
            building(3, [revenue(2024, "100.00"), revenue(2025, "130.00")], verification=SUBMITTED),
            building(4, [revenue(2024, "100.00", SUBMITTED), revenue(2025, "130.00")]),
            building(5, [revenue(2024, "100.00"), revenue(2025, "130.00", REJECTED)]),
        ],
        2025,
    )
    assert [c.subject_id for c in found] == ["1"]
    assert found[0].facts == M05Facts(revenue_yuan=Decimal("130.00"), prior_revenue_yuan=Decimal("100.00"))
    assert (found[0].recipient_kind, found[0].recipient) == ("enterprise", OWNER)  # （五）the operator
    assert [(g.subject_id, g.code) for g in gaps] == [
        ("2", "no_figures"),
        ("3", "awaiting_verification"),
        ("4", "awaiting_verification"),
        ("5", "verification_rejected"),
    ]
    assert "star grade" in gaps[1].message and "revenue of 2024" in gaps[2].message


def enterprise(uscc, years, *, spun_off=False, parent="91500103000000009X", established="2024-11-19"):
    return {"uscc": uscc, "name": "企业", "district_code": "500112", "sector": "modern_logistics",
            "established_on": established, "spun_off_from_manufacturer": spun_off,
            "parent_uscc": parent if spun_off else None, "spun_off_on": established if spun_off else None,
            "years": years}  # fmt: skip


def year(value, listed, verification=VERIFIED, district_code="500112"):
    return {"year": value, "revenue_yuan": "20000000.00", "employees": 80, "above_scale": True,
            "top500_service": listed, "district_code": district_code, "verification": verification}  # fmt: skip


def test_enterprises_first_listing_and_spin_off():
    found, gaps = subjects.enterprise_candidates(
        [
            enterprise("A", [year(2023, False), year(2025, True)], spun_off=True),
            enterprise("B", [year(2023, True), year(2025, True)]),
            enterprise("C", [year(2026, True)]),
        ],
        2025,
    )
    facts = {(c.measure_id, c.subject_id): c.facts for c in found}
    assert facts[("M07a", "A")] == M07aFacts(first_time_top500=True, producer_service=True)
    assert facts[("M07a", "B")] == M07aFacts(first_time_top500=False, producer_service=True)  # listed in 2023
    assert facts[("M07b", "A")] == M07bFacts(
        spun_off_from_manufacturer=True, established_on=date(2024, 11, 19), revenue_yuan=Decimal("20000000.00")
    )
    # 第（七）条: the 500强 reward goes to 相应区县 (the district), the 主辅分离 reward to the new enterprise.
    recipients = {(c.measure_id, c.subject_id): (c.recipient_kind, c.recipient, c.year) for c in found}
    assert recipients[("M07a", "A")] == ("district", "500112", 2025)
    assert recipients[("M07b", "A")] == ("enterprise", "A", 2025)
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [
        ("M07a", "C", "no_figures"),
        ("M07b", "C", "no_figures"),
    ]


def test_m07a_pays_the_district_of_the_enterprise_in_that_year():
    # The enterprise is in 500112 today, but its 2025 figures were recorded in 500103: that district is paid.
    found, _ = subjects.enterprise_candidates([enterprise("A", [year(2025, True, district_code="500103")])], 2025)
    m07a = next(c for c in found if c.measure_id == "M07a")
    assert (m07a.recipient_kind, m07a.recipient, m07a.district_code) == ("district", "500103", "500103")


def test_only_verified_figures_count():
    found, gaps = subjects.enterprise_candidates(
        [
            enterprise("A", [year(2025, True, SUBMITTED)], spun_off=True),
            enterprise("B", [year(2025, True, REJECTED)]),
            # A 2024 listing the city rejected is no listing: 2025's is the first.
            enterprise("C", [year(2024, True, REJECTED), year(2025, True)]),
        ],
        2025,
    )
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [
        ("M07a", "A", "awaiting_verification"),
        ("M07b", "A", "awaiting_verification"),
        ("M07a", "B", "verification_rejected"),
        ("M07b", "B", "verification_rejected"),
    ]
    assert [(c.measure_id, c.subject_id) for c in found] == [("M07a", "C"), ("M07b", "C")]
    assert found[0].facts == M07aFacts(first_time_top500=True, producer_service=True)


def test_a_spin_off_without_its_parent_manufacturer_is_a_gap():
    # 第（七）条 主辅分离: the parent manufacturer must be on record (old-shape data lacks it).
    found, gaps = subjects.enterprise_candidates(
        [enterprise("A", [year(2025, False)], spun_off=True, parent=None)], 2025
    )
    assert [(c.measure_id, c.subject_id) for c in found] == [("M07a", "A")]
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [("M07b", "A", "parent_not_recorded")]


def test_an_earlier_listing_awaiting_verification_holds_the_first_listing_back():
    # 第（七）条 rewards the *first* listing: a 2024 listing the city has not verified yet may make 2025's the second.
    found, gaps = subjects.enterprise_candidates(
        [enterprise("A", [year(2024, True, SUBMITTED), year(2025, True)])], 2025
    )
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [("M07a", "A", "awaiting_verification")]
    assert [(c.measure_id, c.subject_id) for c in found] == [("M07b", "A")]
