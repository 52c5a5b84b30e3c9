"""From the registry's records to the facts of each computable measure (pure).

Which subject is evaluated against which measure, for a screening year Y:
- a project of year Y: `investment` → M01, `platform` → M02, `event` → M13;
- a cluster with an evaluation for Y → M03 (grade, tier); the money goes to the body the cluster belongs to
  (隶属关系: the district government or a city department / development-zone committee), 第（三）条;
- a star building with revenue for Y and Y−1 → M05;
- an enterprise with figures for Y → M07a (listed in Y and in no earlier year on record: first time; the money
  goes to the enterprise's district of that year) and M07b (the money goes to the enterprise).
M06 is paid on the ranking service's published ranking, so it is not screened here.

Only facts the city has verified count (the registry's `verification` of each record): a record that waits for
verification, or was rejected, is a gap that says so, never an amount.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from services.eligibility.rules.m01_project_grant import M01Facts
from services.eligibility.rules.m02_public_platform import M02Facts
from services.eligibility.rules.m03_a_grade_cluster import M03Facts
from services.eligibility.rules.m05_star_building import M05Facts
from services.eligibility.rules.m07a_top500_first_listing import M07aFacts
from services.eligibility.rules.m07b_manufacturer_spin_off import M07bFacts
from services.eligibility.rules.m13_event_platform import M13Facts
from shared.reference import PLATFORM_DOMAINS, SECTOR_CODES

PROJECT_MEASURES = {"investment": "M01", "platform": "M02", "event": "M13"}
# Who receives the money: an enterprise (credit code), a district government (district code) or a city department
# or development-zone committee (its name).
RecipientKind = TypeAliasType("RecipientKind", Literal["enterprise", "district", "city_department"])
ENTERPRISE: RecipientKind = "enterprise"
DISTRICT: RecipientKind = "district"
CITY_DEPARTMENT: RecipientKind = "city_department"
# Why a subject is not evaluated: the registry lacks a (verified) fact the rules need. Typed, so that a gap cannot
# carry a code the enum lacks (mypy), and the enum lists no code the gaps do not give (tests/eligibility).
ScreeningGapCode = TypeAliasType(
    "ScreeningGapCode",
    Annotated[
        Literal[
            "awaiting_verification",
            "verification_rejected",
            "duplicate_project",
            "fact_missing",
            "no_evaluation",
            "no_figures",
            "parent_not_recorded",
        ],
        Field(
            title="ScreeningGapCode",
            description="Why a screened subject was not evaluated: its facts wait for the city's verification or "
            "were rejected, it duplicates another project, or the registry lacks a fact, an evaluation, the year's "
            "figures or a spin-off's parent",
        ),
    ],
)


@dataclass(slots=True)
class Candidate:
    """One subject to evaluate against one measure, with the year its facts are of."""

    measure_id: str
    subject_type: str
    subject_id: str
    subject_name: str
    district_code: str
    recipient_kind: RecipientKind
    recipient: str
    facts: object
    year: int


@dataclass(slots=True)
class Gap:
    """A subject the registry lacks a (verified) fact for; counted, not evaluated."""

    measure_id: str
    subject_type: str
    subject_id: str
    district_code: str
    code: ScreeningGapCode
    message: str


def _money(raw: Any) -> Decimal:
    # The registry writes money as strings with two places ("1234.50").
    return Decimal(raw)


def unverified(record: Mapping[str, Any], what: str) -> tuple[ScreeningGapCode, str] | None:
    """(code, message) when `record`'s facts do not count for money yet; None once the city verified them."""
    verification = record.get("verification") or {}
    status = verification.get("status")
    if status == "verified":
        return None
    if status == "rejected":
        reason = verification.get("reason")
        return "verification_rejected", f"the city rejected {what}" + (f": {reason}" if reason else "")
    submitter = verification.get("submitted_by")
    return "awaiting_verification", f"{what} waits for the city's verification" + (
        f" (submitted by {submitter})" if submitter else ""
    )


def cluster_recipient(cluster: Mapping[str, Any]) -> tuple[RecipientKind, str]:
    """The body the cluster belongs to (隶属关系), which manages and uses an M03 reward."""
    belongs_to = cluster.get("belongs_to") or {"kind": DISTRICT, "district_code": cluster["district_code"]}
    if belongs_to.get("kind") == CITY_DEPARTMENT:
        return CITY_DEPARTMENT, str(belongs_to["department"])
    return DISTRICT, str(belongs_to.get("district_code") or cluster["district_code"])


def _project_problem(project: Mapping[str, Any], measure_id: str) -> tuple[ScreeningGapCode, str] | None:
    """Why a project's facts cannot be evaluated: a duplicate, unverified facts or a missing one."""
    if project.get("duplicate_of_id") is not None:
        return "duplicate_project", f"the registry holds this project already as project {project['duplicate_of_id']}"
    pending = unverified(project, "the project's investment, spend and approval")
    if pending is not None:
        return pending
    fact = "actual_spend_yuan" if measure_id == "M13" else "verified_investment_yuan"
    if project.get(fact) is None:
        return (
            "fact_missing",
            f"the registry records no {fact} for this {'event' if measure_id == 'M13' else 'project'}",
        )
    return None


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
        problem = _project_problem(project, measure_id)
        if problem is not None:
            gaps.append(Gap(measure_id, "project", subject_id, project["district_code"], *problem))
            continue
        facts: object
        if measure_id == "M13":
            facts = M13Facts(actual_spend_yuan=_money(project["actual_spend_yuan"]))
        else:
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
                ENTERPRISE,
                project["owner_uscc"],
                facts,
                project["year"],
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
        pending = unverified(evaluation, f"the cluster's evaluation for {year}")
        if pending is not None:
            gaps.append(Gap("M03", "cluster", subject_id, cluster["district_code"], *pending))
            continue
        recipient_kind, recipient = cluster_recipient(cluster)
        candidates.append(
            Candidate(
                "M03",
                "cluster",
                subject_id,
                cluster["name"],
                cluster["district_code"],
                recipient_kind,
                recipient,
                M03Facts(grade=evaluation["grade"], tier=evaluation.get("tier")),
                year,
            )
        )
    return candidates, gaps


def building_candidates(buildings: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for building in buildings:
        by_year = {item["year"]: item for item in building.get("years", ())}
        subject_id = str(building["id"])

        def gap(
            code: ScreeningGapCode, message: str, building: Mapping[str, Any] = building, subject_id: str = subject_id
        ) -> None:
            gaps.append(Gap("M05", "building", subject_id, building["district_code"], code, message))

        if year not in by_year or year - 1 not in by_year:
            gap("no_figures", f"the building lacks revenue for {year} or {year - 1}")
            continue
        pending = (
            unverified(building, "the building's star grade")
            or unverified(by_year[year - 1], f"the building's revenue of {year - 1}")
            or unverified(by_year[year], f"the building's revenue of {year}")
        )
        if pending is not None:
            gap(*pending)
            continue
        candidates.append(
            Candidate(
                "M05",
                "building",
                subject_id,
                building["name"],
                building["district_code"],
                ENTERPRISE,
                building["operator_uscc"],
                M05Facts(
                    revenue_yuan=_money(by_year[year]["revenue_yuan"]),
                    prior_revenue_yuan=_money(by_year[year - 1]["revenue_yuan"]),
                ),
                year,
            )
        )
    return candidates, gaps


def enterprise_candidates(enterprises: Iterable[Mapping[str, Any]], year: int) -> tuple[list[Candidate], list[Gap]]:
    candidates: list[Candidate] = []
    gaps: list[Gap] = []
    for enterprise in enterprises:
        uscc = enterprise["uscc"]
        district_code = enterprise["district_code"]

        def gap(code: ScreeningGapCode, message: str, uscc: str = uscc, district_code: str = district_code) -> None:
            for measure_id in ("M07a", "M07b"):
                gaps.append(Gap(measure_id, "enterprise", uscc, district_code, code, message))

        current = None
        listed_before = False
        listing_pending: tuple[ScreeningGapCode, str] | None = None
        for item in enterprise.get("years", ()):
            if item["year"] == year:
                current = item
            elif item["year"] < year and item.get("top500_service"):
                pending = unverified(item, f"a listing in 中国服务业企业500强 of {item['year']}")
                if pending is None:
                    listed_before = True
                elif pending[0] == "awaiting_verification":
                    # An earlier listing not yet verified may make this one not the first: M07a waits for it. One
                    # the city rejected is no listing.
                    listing_pending = pending
        if current is None:
            gap("no_figures", f"no figures for {year}")
            continue
        pending = unverified(current, f"the enterprise's figures of {year}")
        if pending is not None:
            gap(*pending)
            continue
        # The district the enterprise belonged to in that year (an enterprise may move; the year keeps its own).
        year_district = current.get("district_code") or district_code
        name = enterprise["name"]
        if listing_pending is not None and not listed_before and current.get("top500_service"):
            gaps.append(Gap("M07a", "enterprise", uscc, year_district, *listing_pending))
        else:
            candidates.append(
                Candidate(
                    "M07a",
                    "enterprise",
                    uscc,
                    name,
                    year_district,
                    DISTRICT,
                    year_district,
                    M07aFacts(
                        first_time_top500=bool(current.get("top500_service")) and not listed_before,
                        producer_service=enterprise["sector"] in SECTOR_CODES,
                    ),
                    year,
                )
            )
        spun_off = bool(enterprise.get("spun_off_from_manufacturer"))
        if spun_off and not enterprise.get("parent_uscc"):
            gaps.append(
                Gap(
                    "M07b",
                    "enterprise",
                    uscc,
                    year_district,
                    "parent_not_recorded",
                    "the registry records no parent manufacturer (parent_uscc) for the spin-off",
                )
            )
            continue
        candidates.append(
            Candidate(
                "M07b",
                "enterprise",
                uscc,
                name,
                year_district,
                ENTERPRISE,
                uscc,
                M07bFacts(
                    spun_off_from_manufacturer=spun_off,
                    established_on=date.fromisoformat(str(enterprise["established_on"])),
                    revenue_yuan=_money(current["revenue_yuan"]),
                ),
                year,
            )
        )
    return candidates, gaps
