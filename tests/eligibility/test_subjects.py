"""From registry records to facts (pure): which subject meets which measure, and what a missing fact does."""

from decimal import Decimal

from services.eligibility.rules.m01 import M01Facts
from services.eligibility.rules.m02 import M02Facts
from services.eligibility.rules.m05 import M05Facts
from services.eligibility.rules.m07a import M07aFacts
from services.eligibility.rules.m07b import M07bFacts
from services.eligibility.screenings import subjects


def project(**fields):
    return {
        "id": 1,
        "kind": "investment",
        "owner_uscc": "91500103000000001X",
        "district_code": "500103",
        "name": "项目",
        "year": 2025,
        "platform_domain": None,
        "verified_investment_yuan": "1000.00",
        "actual_spend_yuan": None,
        "special_major_approved": False,
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
    assert found[0].recipient == "91500103000000001X"
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [("M01", "6", "fact_missing")]


def test_clusters_need_an_evaluation_of_the_year():
    clusters = [
        {"id": 1, "name": "甲", "district_code": "500103", "manager_uscc": None,
         "evaluations": [{"year": 2024, "grade": "A", "score": "90.00", "tier": 1}]},
        {"id": 2, "name": "乙", "district_code": "500103", "manager_uscc": "91500103000000001X",
         "evaluations": [{"year": 2025, "grade": "A", "score": "90.00", "tier": 1}]},
    ]  # fmt: skip
    found, gaps = subjects.cluster_candidates(clusters, 2025)
    assert [(c.subject_id, c.recipient) for c in found] == [("2", "91500103000000001X")]
    assert [(g.subject_id, g.code) for g in gaps] == [("1", "no_evaluation")]


def test_buildings_need_two_years_of_revenue():
    buildings = [
        {"id": 1, "name": "楼", "district_code": "500103", "operator_uscc": "91500103000000001X", "stars": 3,
         "years": [{"year": 2024, "revenue_yuan": "100.00"}, {"year": 2025, "revenue_yuan": "130.00"}]},
        {"id": 2, "name": "楼", "district_code": "500103", "operator_uscc": "91500103000000001X", "stars": 3,
         "years": [{"year": 2025, "revenue_yuan": "130.00"}]},
    ]  # fmt: skip
    found, gaps = subjects.building_candidates(buildings, 2025)
    assert found[0].facts == M05Facts(revenue_yuan=Decimal("130.00"), prior_revenue_yuan=Decimal("100.00"))
    assert [(g.subject_id, g.code) for g in gaps] == [("2", "no_figures")]


def test_enterprises_first_listing_and_spin_off():
    def enterprise(uscc, years, spun_off=False):
        return {"uscc": uscc, "name": "企业", "district_code": "500112", "sector": "modern_logistics",
                "spun_off_from_manufacturer": spun_off, "years": years}  # fmt: skip

    def year(value, listed):
        return {"year": value, "revenue_yuan": "20000000.00", "top500_service": listed}

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
    assert facts[("M07b", "A")] == M07bFacts(spun_off_from_manufacturer=True, revenue_yuan=Decimal("20000000.00"))
    assert next(c for c in found if c.measure_id == "M07a" and c.subject_id == "A").recipient == "500112"
    assert [(g.measure_id, g.subject_id, g.code) for g in gaps] == [
        ("M07a", "C", "no_figures"),
        ("M07b", "C", "no_figures"),
    ]
