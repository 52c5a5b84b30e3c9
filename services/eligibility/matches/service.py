"""Matching (精准匹配、主动推送, 渝府发〔2024〕18号 第三十二条): what one enterprise can receive or apply for."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.eligibility.awards import repository as awards
from services.eligibility.awards.identity import stacking_key
from services.eligibility.awards.models import Award
from services.eligibility.calculations.service import step_out
from services.eligibility.matches.schemas import LedgerHolding, MatchedAmount, MatchedMeasure, MatchesOut
from services.eligibility.measures.catalogue import MEASURES, MEASURES_BY_ID, Measure
from services.eligibility.parameters.definitions import ParameterSet
from services.eligibility.registry_client.client import RegistryClient
from services.eligibility.rules import engine
from services.eligibility.rules.base import ZERO
from services.eligibility.rules.engine import Outcome
from services.eligibility.screenings import subjects
from services.eligibility.screenings.subjects import Candidate
from shared.auth import Principal
from shared.errors import Forbidden, NotFound

# 第（十一）条 names software and information, law, accounting, consulting and design.
KNOWLEDGE_INTENSIVE_SECTORS = frozenset(
    {"software_it", "legal_ip", "accounting_audit_tax", "industrial_design", "human_resources", "tech_rnd"}
)
# 第（八）条: patient capital for enterprises at the start-up and growth stages.
YOUNG_ENTERPRISE_YEARS = 5


def _measure(measure: Measure, applies: str, basis: str) -> MatchedMeasure:
    return MatchedMeasure(
        measure_id=measure.id,
        clause=measure.clause,
        title_zh=measure.title_zh,
        title_en=measure.title_en,
        applies=applies,
        basis=basis,
        lead_department_zh=measure.lead_department_zh,
        lead_department_en=measure.lead_department_en,
        citation=measure.citation,
    )


def other_measures(
    enterprise: dict[str, Any],
    managed_clusters: list[dict[str, Any]],
    district_clusters: list[dict[str, Any]],
    as_of: date,
) -> list[MatchedMeasure]:
    """The measures without a formula that apply, or may apply, to the enterprise."""
    found: list[MatchedMeasure] = []
    for measure in MEASURES:
        if measure.computable or measure.recipient == "industry_association":
            continue
        if measure.id == "M04":
            if managed_clusters:
                names = "、".join(str(c["name"]) for c in managed_clusters)
                found.append(_measure(measure, "applies", f"the enterprise manages the cluster {names}"))
            elif district_clusters:
                names = "、".join(str(c["name"]) for c in district_clusters)
                found.append(_measure(measure, "may_apply", f"if it is located in a cluster of its district: {names}"))
            continue
        if measure.id == "M08":
            established = date.fromisoformat(enterprise["established_on"])
            age = (as_of - established).days // 365
            basis = "a producer-service enterprise"
            if age < YOUNG_ENTERPRISE_YEARS:
                basis += f", at the start-up or growth stage (established {established}) the clause stresses"
            found.append(_measure(measure, "applies", basis))
            continue
        if measure.id == "M11":
            if enterprise["sector"] in KNOWLEDGE_INTENSIVE_SECTORS:
                found.append(_measure(measure, "applies", f"a knowledge-intensive sector ({enterprise['sector']})"))
            else:
                found.append(_measure(measure, "may_apply", "if it is a small or medium-sized enterprise"))
            continue
        if measure.id == "M16":
            found.append(_measure(measure, "may_apply", "when it needs land or uses existing industrial property"))
            continue
        found.append(_measure(measure, "applies", "a producer-service enterprise of the registry"))
    return found


def _ledger_key(candidate: Candidate, project_codes: dict[str, str]) -> str:
    """The stacking key the ledger keeps this candidate's award under (services.eligibility.awards.identity)."""
    subject_id = project_codes.get(candidate.subject_id, candidate.subject_id)
    if candidate.subject_type == "project":
        return stacking_key("project", subject_id, None, candidate.recipient_kind)
    return stacking_key(candidate.subject_type, subject_id, candidate.year, candidate.recipient_kind)


def _not_applicable(parameters: ParameterSet, as_of: date, year: int) -> str | None:
    policy = parameters.policy
    if not policy.in_force(as_of):
        return (
            f"{policy.document} is not in force on {as_of} (it applies {policy.effective_from} … {policy.effective_to})"
        )
    first, last = parameters.at(as_of).rewarded_years()
    if not first <= year <= last:
        return f"{policy.document} rewards the years {first}–{last}, not {year}"
    return None


async def match(
    session: AsyncSession,
    registry: RegistryClient,
    parameters: ParameterSet,
    principal: Principal,
    uscc: str,
    as_of: date,
    year: int | None,
) -> MatchesOut:
    """What `uscc` qualifies for on `as_of`, from the figures of `year` (default: the year before `as_of`)."""
    if year is None:
        year = as_of.year - 1
    enterprise = await registry.enterprise(uscc)
    if enterprise is None:
        raise NotFound(f"The registry has no enterprise {uscc}.")
    district_code = enterprise["district_code"]
    if not principal.may_read_district(district_code):
        raise Forbidden("A district key reads only the enterprises of its own district.")
    outside = _not_applicable(parameters, as_of, year)
    computable: list[MatchedAmount] = []
    other: list[MatchedMeasure] = []
    if outside is None:
        # The enterprise's projects of the year only: a project of another year is that year's business.
        projects = [
            p
            for p in await registry.list_all("/projects", {"owner_uscc": uscc, "year": year})
            if p["owner_uscc"] == uscc and p["year"] == year
        ]
        clusters = await registry.list_all("/clusters")
        buildings = [b for b in await registry.list_all("/buildings") if b["operator_uscc"] == uscc]
        managed = [c for c in clusters if c.get("manager_uscc") == uscc]
        candidates: list[Candidate] = []
        candidates.extend(subjects.project_candidates(projects, year)[0])
        candidates.extend(subjects.cluster_candidates(managed, year)[0])
        candidates.extend(subjects.building_candidates(buildings, year)[0])
        candidates.extend(subjects.enterprise_candidates([enterprise], year)[0])
        codes = {str(p["id"]): p["project_code"] for p in projects if p.get("project_code")}
        held = await awards.standing_for(session, [_ledger_key(candidate, codes) for candidate in candidates])
        for candidate in candidates:
            outcome = engine.evaluate(candidate.measure_id, as_of, candidate.facts, parameters, year=candidate.year)
            if not outcome.eligible:
                continue
            computable.append(_amount(candidate, outcome, held.get(_ledger_key(candidate, codes))))
        district_clusters = [c for c in clusters if c["district_code"] == district_code]
        other = other_measures(enterprise, managed, district_clusters, as_of)
    own = [m.open_yuan for m in computable if m.recipient_kind == "enterprise" and m.recipient == uscc]
    return MatchesOut(
        uscc=enterprise["uscc"],
        name=enterprise["name"],
        district_code=district_code,
        sector=enterprise["sector"],
        as_of=as_of,
        year=year,
        policy_in_force=outside is None,
        not_applicable_reason=outside,
        computable=computable,
        total_amount_yuan=sum(own, ZERO),
        amount_to_others_yuan=sum((m.open_yuan for m in computable), ZERO) - sum(own, ZERO),
        other_measures=other,
    )


def _amount(candidate: Candidate, outcome: Outcome, standing: Award | None) -> MatchedAmount:
    measure = MEASURES_BY_ID[candidate.measure_id]
    holding = (
        LedgerHolding(
            award_id=standing.id,
            policy=standing.policy,
            measure_id=standing.measure_id,
            status=standing.status,
            amount_yuan=standing.amount_yuan,
        )
        if standing is not None
        else None
    )
    return MatchedAmount(
        measure_id=measure.id,
        clause=measure.clause,
        title_zh=measure.title_zh,
        title_en=measure.title_en,
        subject_type=candidate.subject_type,
        subject_id=candidate.subject_id,
        subject_name=candidate.subject_name,
        year=candidate.year,
        recipient_kind=candidate.recipient_kind,
        recipient=candidate.recipient,
        amount_yuan=outcome.amount,
        held=holding,
        open_yuan=max(outcome.amount - standing.amount_yuan, ZERO) if standing is not None else outcome.amount,
        lead_department_zh=measure.lead_department_zh,
        lead_department_en=measure.lead_department_en,
        citation=measure.citation,
        trace=[step_out(step) for step in outcome.trace],
    )
