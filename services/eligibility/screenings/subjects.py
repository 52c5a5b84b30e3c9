"""From the registry's records to the facts of each computable measure (pure).

Which subject is evaluated against which measure, for a screening year Y:
- a project of year Y: `investment` → M01, `platform` → M02, `event` → M13;
- a cluster with an evaluation for Y → M03 (grade, tier); the recipient is its managing body;
- a star building with revenue for Y and Y−1 → M05;
- an enterprise with figures for Y → M07a (listed in Y and in no earlier year on record: first time) and M07b.
M06 is paid on the ranking service's published ranking, so it is not screened here.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.eligibility.rules.m01 import M01Facts
from services.eligibility.rules.m02 import M02Facts
from services.eligibility.rules.m03 import M03Facts
from services.eligibility.rules.m05 import M05Facts
from services.eligibility.rules.m07a import M07aFacts
from services.eligibility.rules.m07b import M07bFacts
from services.eligibility.rules.m13 import M13Facts
from shared.reference import PLATFORM_DOMAINS, SECTOR_CODES

PROJECT_MEASURES = {"investment": "M01", "platform": "M02", "event": "M13"}


@dataclass(slots=True)
class Candidate:
    """One subject to evaluate against one measure."""

    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str
    district_code: str
    recipient: str
    facts: object


@dataclass(slots=True)
class Gap:
    """A subject the registry lacks a fact for; counted, not evaluated."""

    measure_id: str
    subject_type: str
    subject_id: str
    district_code: str
    code: str
    message: str


def _money(raw: Any) -> Decimal:
    # The registry writes money as strings with two places ("1234.50").
    return Decimal(raw)


def project_candidates(projects: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for project in projects:
        if project["year"] != year:
            continue
        measure_id = PROJECT_MEASURES.get(project["kind"])
        if measure_id is None:
            continue
        subject_id = str(project["id"])
        facts: object
        if measure_id == "M13":
            if project.get("actual_spend_yuan") is None:
                gaps.append(
                    Gap(
                        measure_id,
                        "project",
                        subject_id,
                        project["district_code"],
                        "fact_missing",
                        "the registry records no actual_spend_yuan for this event",
                    )
                )
                continue
            facts = M13Facts(actual_spend_yuan=_money(project["actual_spend_yuan"]))
        else:
            if project.get("verified_investment_yuan") is None:
                gaps.append(
                    Gap(
                        measure_id,
                        "project",
                        subject_id,
                        project["district_code"],
                        "fact_missing",
                        "the registry records no verified_investment_yuan for this project",
                    )
                )
                continue
            investment = _money(project["verified_investment_yuan"])
            if measure_id == "M01":
                facts = M01Facts(
                    verified_investment_yuan=investment,
                    special_major_approved=bool(project.get("special_major_approved", False)),
                )
            else:
                domain = project.get("platform_domain")
                facts = M02Facts(
                    platform_domain=domain if domain in PLATFORM_DOMAINS else "other",
                    verified_investment_yuan=investment,
                )
        candidates.append(
            Candidate(
                measure_id,
                "project",
                subject_id,
                project["name"],
                project["district_code"],
                project["owner_uscc"],
                facts,
            )
        )
    return candidates, gaps


def cluster_candidates(clusters: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for cluster in clusters:
        evaluation = next((e for e in cluster.get("evaluations", ()) if e["year"] == year), None)
        subject_id = str(cluster["id"])
        if evaluation is None:
            gaps.append(
                Gap(
                    "M03",
                    "cluster",
                    subject_id,
                    cluster["district_code"],
                    "no_evaluation",
                    f"the cluster has no evaluation for {year}",
                )
            )
            continue
        candidates.append(
            Candidate(
                "M03",
                "cluster",
                subject_id,
                cluster["name"],
                cluster["district_code"],
                cluster.get("manager_uscc") or cluster["district_code"],
                M03Facts(grade=evaluation["grade"], tier=evaluation.get("tier")),
            )
        )
    return candidates, gaps


def building_candidates(buildings: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for building in buildings:
        revenue = {item["year"]: item["revenue_yuan"] for item in building.get("years", ())}
        subject_id = str(building["id"])
        if year not in revenue or year - 1 not in revenue:
            gaps.append(
                Gap(
                    "M05",
                    "building",
                    subject_id,
                    building["district_code"],
                    "no_figures",
                    f"the building lacks revenue for {year} or {year - 1}",
                )
            )
            continue
        candidates.append(
            Candidate(
                "M05",
                "building",
                subject_id,
                building["name"],
                building["district_code"],
                building["operator_uscc"],
                M05Facts(revenue_yuan=_money(revenue[year]), prior_revenue_yuan=_money(revenue[year - 1])),
            )
        )
    return candidates, gaps


def enterprise_candidates(enterprises: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for enterprise in enterprises:
        uscc = enterprise["uscc"]
        district_code = enterprise["district_code"]
        current = None
        listed_before = False
        for item in enterprise.get("years", ()):
            if item["year"] == year:
                current = item
            elif item["year"] < year and item.get("top500_service"):
                listed_before = True
        if current is None:
            gaps.append(Gap("M07a", "enterprise", uscc, district_code, "no_figures", f"no figures for {year}"))
            gaps.append(Gap("M07b", "enterprise", uscc, district_code, "no_figures", f"no figures for {year}"))
            continue
        name = enterprise["name"]
        candidates.append(
            Candidate(
                "M07a",
                "enterprise",
                uscc,
                name,
                district_code,
                district_code,
                M07aFacts(
                    first_time_top500=bool(current.get("top500_service")) and not listed_before,
                    producer_service=enterprise["sector"] in SECTOR_CODES,
                ),
            )
        )
        candidates.append(
            Candidate(
                "M07b",
                "enterprise",
                uscc,
                name,
                district_code,
                uscc,
                M07bFacts(
                    spun_off_from_manufacturer=bool(enterprise.get("spun_off_from_manufacturer")),
                    revenue_yuan=_money(current["revenue_yuan"]),
                ),
            )
        )
    return candidates, gaps
